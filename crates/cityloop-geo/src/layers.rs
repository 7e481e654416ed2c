//! GeoJSON import and export of territory layers.
//!
//! Each layer is a GeoJSON FeatureCollection in WGS84:
//!
//! | layer | geometry | properties |
//! |---|---|---|
//! | district, neighbours | Polygon / MultiPolygon | `adcode` or `code` (number or string), `name`, `schematic`? |
//! | streets | Polygon / MultiPolygon | `code` (9 digits), `name`, `schematic`? |
//! | communities | Polygon / MultiPolygon | `code` (12 digits), `name`, `schematic`? |
//! | grids | Polygon / MultiPolygon | `code` (15 or 14 digits), `schematic`? |
//! | roads (segments) | LineString / MultiLineString | `id`, `road_name` (or `name`), `street_code`?, `schematic`? |
//! | roads (OSM ways) | LineString / MultiLineString | `osm_id`, `name`?, ... |
//!
//! A roads file whose features carry `osm_id` is taken as OpenStreetMap ways (one feature per
//! way, as exported from a `.pbf`) and split into segments at intersections: at every interior
//! vertex that also occurs in another way, or twice in the same way. Segment ids are
//! `{osm_id}-{k:03}`. Other roads files are taken as a district's segment layer, as is.
//!
//! Parsing reports every structural problem (broken JSON, wrong geometry type, unclosed or
//! short rings, missing codes) as [`ValidationError`]s; once every feature parses, the layers go
//! through [`Territory::new`] for the semantic checks. Nothing is half-loaded.
//!
//! Export writes the same shapes back, one feature per line, UTF-8 names written as is (no
//! `\u` escapes), coordinates in the shortest form that reads back to the same `f64`.
//! File reading happens only in [`read_layer_file`] and [`load_territory`].

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};

use geo::{Coord, LineString, MultiPolygon, Polygon};
use geojson::{Feature, GeoJson, Value};
use serde_json::{json, Map, Value as Json};

use crate::error::GeoError;
use crate::territory::{
    Community, District, Layer, RoadSegment, StreetOffice, Territory, TerritoryLayers, UnitGrid,
    ValidationError,
};

/// The GeoJSON text of each layer; `None` (or an empty roads text) leaves the layer empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct LayerTexts<'a> {
    /// FeatureCollection with exactly one district.
    pub district: Option<&'a str>,
    /// Districts around it; a feature with the district's own code is skipped, so a file of
    /// all the city's districts can be passed as is.
    pub neighbours: Option<&'a str>,
    /// Street offices.
    pub streets: Option<&'a str>,
    /// Communities.
    pub communities: Option<&'a str>,
    /// Unit grids.
    pub grids: Option<&'a str>,
    /// Road segments or OSM ways.
    pub roads: Option<&'a str>,
}

/// The file of each layer (`.gz` files are decompressed).
#[derive(Clone, Debug, Default)]
pub struct LayerFiles {
    /// District file.
    pub district: Option<PathBuf>,
    /// Neighbours file.
    pub neighbours: Option<PathBuf>,
    /// Street offices file.
    pub streets: Option<PathBuf>,
    /// Communities file.
    pub communities: Option<PathBuf>,
    /// Unit grids file.
    pub grids: Option<PathBuf>,
    /// Roads file.
    pub roads: Option<PathBuf>,
}

/// The exported GeoJSON text of each layer of a territory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportedLayers {
    /// District (absent when the territory has none).
    pub district: Option<String>,
    /// Neighbours.
    pub neighbours: String,
    /// Street offices.
    pub streets: String,
    /// Communities.
    pub communities: String,
    /// Unit grids.
    pub grids: String,
    /// Road segments.
    pub roads: String,
}

/// An OpenStreetMap way as read from a roads file, before splitting.
#[derive(Clone, Debug, PartialEq)]
pub struct OsmWay {
    /// The way id (with a `.k` suffix for the k-th part of a MultiLineString).
    pub id: String,
    /// The `name` tag, or empty.
    pub name: String,
    /// The way's positions.
    pub coords: Vec<Coord>,
}

/// Reads a layer file as UTF-8 text, decompressing it when the name ends in `.gz`.
pub fn read_layer_file(path: &Path) -> Result<String, GeoError> {
    let bytes = std::fs::read(path).map_err(|source| GeoError::Io {
        path: path.to_owned(),
        source,
    })?;
    let what = path.display().to_string();
    if path.extension().is_some_and(|e| e == "gz") {
        gunzip_to_string(&bytes, &what)
    } else {
        String::from_utf8(bytes).map_err(|e| GeoError::Decode {
            what,
            reason: e.to_string(),
        })
    }
}

/// Decompresses gzip bytes into UTF-8 text; `what` names the source in errors.
pub fn gunzip_to_string(bytes: &[u8], what: &str) -> Result<String, GeoError> {
    let mut s = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut s)
        .map_err(|e| GeoError::Decode {
            what: what.to_owned(),
            reason: e.to_string(),
        })?;
    Ok(s)
}

/// Reads the given layer files and builds a validated territory.
pub fn load_territory(files: &LayerFiles) -> Result<Territory, GeoError> {
    let read = |p: &Option<PathBuf>| p.as_deref().map(read_layer_file).transpose();
    let district = read(&files.district)?;
    let neighbours = read(&files.neighbours)?;
    let streets = read(&files.streets)?;
    let communities = read(&files.communities)?;
    let grids = read(&files.grids)?;
    let roads = read(&files.roads)?;
    let texts = LayerTexts {
        district: district.as_deref(),
        neighbours: neighbours.as_deref(),
        streets: streets.as_deref(),
        communities: communities.as_deref(),
        grids: grids.as_deref(),
        roads: roads.as_deref(),
    };
    Ok(territory_from_geojson(&texts)?)
}

/// Parses every layer and validates the result, returning all problems found.
///
/// Structural problems of all layers are reported together; the semantic checks of
/// [`Territory::new`] run once every feature has parsed.
pub fn territory_from_geojson(texts: &LayerTexts) -> Result<Territory, Vec<ValidationError>> {
    Territory::new(layers_from_geojson(texts)?)
}

/// Parses every layer without the semantic checks (see [`territory_from_geojson`]).
pub fn layers_from_geojson(texts: &LayerTexts) -> Result<TerritoryLayers, Vec<ValidationError>> {
    let mut errs = Vec::new();
    let mut layers = TerritoryLayers::default();
    if let Some(t) = texts.district {
        match parse_district(t) {
            Ok(d) => layers.district = Some(d),
            Err(e) => errs.extend(e),
        }
    }
    let own = layers.district.as_ref().map(|d| d.code.clone());
    if let Some(t) = texts.neighbours {
        match parse_districts(t, Layer::Neighbours) {
            Ok(v) => {
                layers.neighbours = v
                    .into_iter()
                    .filter(|n| Some(&n.code) != own.as_ref())
                    .collect()
            }
            Err(e) => errs.extend(e),
        }
    }
    if let Some(t) = texts.streets {
        collect(parse_streets(t), &mut layers.streets, &mut errs);
    }
    if let Some(t) = texts.communities {
        collect(parse_communities(t), &mut layers.communities, &mut errs);
    }
    if let Some(t) = texts.grids {
        collect(parse_grids(t), &mut layers.grids, &mut errs);
    }
    if let Some(t) = texts.roads {
        collect(parse_roads(t), &mut layers.segments, &mut errs);
    }
    if errs.is_empty() {
        Ok(layers)
    } else {
        Err(errs)
    }
}

fn collect<T>(
    r: Result<Vec<T>, Vec<ValidationError>>,
    into: &mut Vec<T>,
    errs: &mut Vec<ValidationError>,
) {
    match r {
        Ok(v) => *into = v,
        Err(e) => errs.extend(e),
    }
}

/// Parses a FeatureCollection holding exactly one district.
pub fn parse_district(text: &str) -> Result<District, Vec<ValidationError>> {
    let mut v = parse_districts(text, Layer::District)?;
    if v.len() != 1 {
        return Err(vec![ValidationError::new(
            Layer::District,
            "-",
            format!("expected exactly one district feature, found {}", v.len()),
        )]);
    }
    Ok(v.remove(0))
}

/// Parses districts (the district itself or neighbours): `adcode` or `code`, `name`.
pub fn parse_districts(text: &str, layer: Layer) -> Result<Vec<District>, Vec<ValidationError>> {
    parse_each(text, layer, &["adcode", "code"], |f, id| {
        Ok(District {
            code: id.to_owned(),
            name: required_str(f, "name")?,
            geometry: area_geometry(f)?,
            schematic: schematic(f),
        })
    })
}

/// Parses street offices: `code`, `name`.
pub fn parse_streets(text: &str) -> Result<Vec<StreetOffice>, Vec<ValidationError>> {
    parse_each(text, Layer::Streets, &["code"], |f, id| {
        Ok(StreetOffice {
            code: id.to_owned(),
            name: required_str(f, "name")?,
            geometry: area_geometry(f)?,
            schematic: schematic(f),
        })
    })
}

/// Parses communities: `code`, `name`.
pub fn parse_communities(text: &str) -> Result<Vec<Community>, Vec<ValidationError>> {
    parse_each(text, Layer::Communities, &["code"], |f, id| {
        Ok(Community {
            code: id.to_owned(),
            name: required_str(f, "name")?,
            geometry: area_geometry(f)?,
            schematic: schematic(f),
        })
    })
}

/// Parses unit grids: `code`.
pub fn parse_grids(text: &str) -> Result<Vec<UnitGrid>, Vec<ValidationError>> {
    parse_each(text, Layer::Grids, &["code"], |f, id| {
        Ok(UnitGrid {
            code: id.to_owned(),
            geometry: area_geometry(f)?,
            schematic: schematic(f),
        })
    })
}

/// Parses a roads file: OSM ways (features with `osm_id`, split at intersections) or a
/// segment layer (`id`, `road_name`, `street_code`?).
pub fn parse_roads(text: &str) -> Result<Vec<RoadSegment>, Vec<ValidationError>> {
    let features = features(text, Layer::Roads).map_err(|e| vec![e])?;
    let osm = features.iter().any(|f| f.property("osm_id").is_some());
    if osm {
        let ways = osm_ways(&features)?;
        Ok(split_ways_at_intersections(&ways))
    } else {
        parse_features(&features, Layer::Roads, &["id"], |f, id| {
            let lines = line_geometry(f)?;
            let [line]: [LineString; 1] = lines
                .try_into()
                .map_err(|_| "a segment must be a single LineString".to_owned())?;
            Ok(RoadSegment {
                id: id.to_owned(),
                road_name: optional_str(f, "road_name")
                    .or_else(|| optional_str(f, "name"))
                    .unwrap_or_default(),
                geometry: line,
                street_code: prop_code(f, "street_code"),
                schematic: schematic(f),
            })
        })
    }
}

/// Reads OSM ways from parsed features (`osm_id`, `name`; LineString or MultiLineString).
fn osm_ways(features: &[Feature]) -> Result<Vec<OsmWay>, Vec<ValidationError>> {
    let mut errs = Vec::new();
    let mut ways = Vec::new();
    for (i, f) in features.iter().enumerate() {
        let Some(id) = prop_code(f, "osm_id") else {
            errs.push(ValidationError::new(
                Layer::Roads,
                format!("#{i}"),
                "missing osm_id",
            ));
            continue;
        };
        let name = optional_str(f, "name").unwrap_or_default();
        match line_geometry(f) {
            Ok(lines) => {
                let n = lines.len();
                for (k, l) in lines.into_iter().enumerate() {
                    ways.push(OsmWay {
                        id: if n == 1 {
                            id.clone()
                        } else {
                            format!("{id}.{k}")
                        },
                        name: name.clone(),
                        coords: l.0,
                    });
                }
            }
            Err(reason) => errs.push(ValidationError::new(Layer::Roads, id, reason)),
        }
    }
    if errs.is_empty() {
        Ok(ways)
    } else {
        Err(errs)
    }
}

/// Splits OSM ways into segments at intersections: at every interior vertex that occurs
/// more than once among all ways (another way's vertex, or a loop of the same way).
/// Consecutive repeated positions are dropped. Segment ids are `{way id}-{k:03}`.
pub fn split_ways_at_intersections(ways: &[OsmWay]) -> Vec<RoadSegment> {
    let key = |c: &Coord| (c.x.to_bits(), c.y.to_bits());
    let cleaned: Vec<Vec<Coord>> = ways
        .iter()
        .map(|w| {
            let mut v: Vec<Coord> = Vec::with_capacity(w.coords.len());
            for c in &w.coords {
                if v.last() != Some(c) {
                    v.push(*c);
                }
            }
            v
        })
        .collect();
    let mut count: HashMap<(u64, u64), u32> = HashMap::new();
    for coords in &cleaned {
        for c in coords {
            *count.entry(key(c)).or_insert(0) += 1;
        }
    }
    let mut out = Vec::new();
    for (w, coords) in ways.iter().zip(&cleaned) {
        let mut start = 0;
        let mut k = 0;
        let mut push = |from: usize, to: usize, k: &mut usize| {
            out.push(RoadSegment {
                id: format!("{}-{:03}", w.id, k),
                road_name: w.name.clone(),
                geometry: LineString(coords[from..=to].to_vec()),
                street_code: None,
                schematic: false,
            });
            *k += 1;
        };
        if coords.len() < 2 {
            // Left for validation to report as a degenerate segment.
            out.push(RoadSegment {
                id: format!("{}-000", w.id),
                road_name: w.name.clone(),
                geometry: LineString(coords.clone()),
                street_code: None,
                schematic: false,
            });
            continue;
        }
        for (i, c) in coords.iter().enumerate().take(coords.len() - 1).skip(1) {
            if count.get(&key(c)).copied().unwrap_or(0) >= 2 {
                push(start, i, &mut k);
                start = i;
            }
        }
        push(start, coords.len() - 1, &mut k);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Parsing helpers.

fn features(text: &str, layer: Layer) -> Result<Vec<Feature>, ValidationError> {
    let gj: GeoJson = text
        .parse()
        .map_err(|e| ValidationError::new(layer, "-", format!("invalid GeoJSON: {e}")))?;
    match gj {
        GeoJson::FeatureCollection(fc) => Ok(fc.features),
        _ => Err(ValidationError::new(
            layer,
            "-",
            "expected a GeoJSON FeatureCollection",
        )),
    }
}

fn parse_each<T>(
    text: &str,
    layer: Layer,
    id_keys: &[&str],
    build: impl Fn(&Feature, &str) -> Result<T, String>,
) -> Result<Vec<T>, Vec<ValidationError>> {
    let features = features(text, layer).map_err(|e| vec![e])?;
    parse_features(&features, layer, id_keys, build)
}

fn parse_features<T>(
    features: &[Feature],
    layer: Layer,
    id_keys: &[&str],
    build: impl Fn(&Feature, &str) -> Result<T, String>,
) -> Result<Vec<T>, Vec<ValidationError>> {
    let mut errs = Vec::new();
    let mut out = Vec::with_capacity(features.len());
    for (i, f) in features.iter().enumerate() {
        let id = id_keys.iter().find_map(|k| prop_code(f, k)).or_else(|| {
            f.id.as_ref().map(|id| match id {
                geojson::feature::Id::String(s) => s.clone(),
                geojson::feature::Id::Number(n) => number_code(n).unwrap_or_else(|| n.to_string()),
            })
        });
        let Some(id) = id else {
            errs.push(ValidationError::new(
                layer,
                format!("#{i}"),
                format!("missing {}", id_keys.join(" or ")),
            ));
            continue;
        };
        match build(f, &id) {
            Ok(t) => out.push(t),
            Err(reason) => errs.push(ValidationError::new(layer, id, reason)),
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

fn number_code(n: &serde_json::Number) -> Option<String> {
    if let Some(u) = n.as_u64() {
        return Some(u.to_string());
    }
    if let Some(i) = n.as_i64() {
        return Some(i.to_string());
    }
    let f = n.as_f64()?;
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then(|| format!("{f:.0}"))
}

/// A code-like property: a string, or an integral number (`410103`, `426488477.0`).
fn prop_code(f: &Feature, key: &str) -> Option<String> {
    match f.property(key)? {
        Json::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Json::Number(n) => number_code(n),
        _ => None,
    }
}

fn optional_str(f: &Feature, key: &str) -> Option<String> {
    match f.property(key)? {
        Json::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn required_str(f: &Feature, key: &str) -> Result<String, String> {
    optional_str(f, key)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| format!("missing property {key:?}"))
}

fn schematic(f: &Feature) -> bool {
    matches!(f.property("schematic"), Some(Json::Bool(true)))
}

fn position(p: &[f64]) -> Result<Coord, String> {
    match p {
        [x, y, ..] if x.is_finite() && y.is_finite() => Ok(Coord { x: *x, y: *y }),
        [x, y, ..] => Err(format!("invalid geometry: non-finite position ({x}, {y})")),
        _ => Err("invalid geometry: a position needs 2 numbers".to_owned()),
    }
}

fn ring(r: &[Vec<f64>], which: &str) -> Result<LineString, String> {
    let coords = r
        .iter()
        .map(|p| position(p))
        .collect::<Result<Vec<_>, _>>()?;
    if coords.len() < 4 {
        return Err(format!(
            "invalid geometry: {which} has {} positions; a ring needs at least 4",
            coords.len()
        ));
    }
    if coords.first() != coords.last() {
        return Err(format!(
            "invalid geometry: {which} is not closed (first and last positions differ)"
        ));
    }
    Ok(LineString(coords))
}

fn polygon(rings: &[Vec<Vec<f64>>]) -> Result<Polygon, String> {
    let Some((ext, holes)) = rings.split_first() else {
        return Err("invalid geometry: a polygon without rings".to_owned());
    };
    let exterior = ring(ext, "exterior ring")?;
    let interiors = holes
        .iter()
        .enumerate()
        .map(|(i, h)| ring(h, &format!("interior ring {}", i + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Polygon::new(exterior, interiors))
}

fn area_geometry(f: &Feature) -> Result<MultiPolygon, String> {
    let Some(g) = &f.geometry else {
        return Err("missing geometry".to_owned());
    };
    match &g.value {
        Value::Polygon(rings) => Ok(MultiPolygon(vec![polygon(rings)?])),
        Value::MultiPolygon(polys) => Ok(MultiPolygon(
            polys
                .iter()
                .map(|p| polygon(p))
                .collect::<Result<Vec<_>, _>>()?,
        )),
        other => Err(format!(
            "expected Polygon or MultiPolygon, found {}",
            other.type_name()
        )),
    }
}

fn line_geometry(f: &Feature) -> Result<Vec<LineString>, String> {
    let Some(g) = &f.geometry else {
        return Err("missing geometry".to_owned());
    };
    let line = |l: &Vec<Vec<f64>>| -> Result<LineString, String> {
        let coords = l
            .iter()
            .map(|p| position(p))
            .collect::<Result<Vec<_>, _>>()?;
        if coords.len() < 2 {
            return Err("invalid geometry: a line needs at least 2 positions".to_owned());
        }
        Ok(LineString(coords))
    };
    match &g.value {
        Value::LineString(l) => Ok(vec![line(l)?]),
        Value::MultiLineString(ls) => ls.iter().map(line).collect(),
        other => Err(format!(
            "expected LineString or MultiLineString, found {}",
            other.type_name()
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Export.

/// Exports every layer of a territory.
pub fn export_territory(t: &Territory) -> ExportedLayers {
    ExportedLayers {
        district: t
            .district()
            .map(|d| districts_to_geojson(std::slice::from_ref(d))),
        neighbours: districts_to_geojson(t.neighbours()),
        streets: streets_to_geojson(t.streets()),
        communities: communities_to_geojson(t.communities()),
        grids: grids_to_geojson(t.grids()),
        roads: segments_to_geojson(t.segments()),
    }
}

/// Districts as a FeatureCollection (`code`, `name`, `schematic`).
pub fn districts_to_geojson(items: &[District]) -> String {
    collection(items.iter().map(|d| {
        feature(
            json!({"code": d.code, "name": d.name, "schematic": d.schematic}),
            area_json(&d.geometry),
        )
    }))
}

/// Street offices as a FeatureCollection (`code`, `name`, `schematic`).
pub fn streets_to_geojson(items: &[StreetOffice]) -> String {
    collection(items.iter().map(|s| {
        feature(
            json!({"code": s.code, "name": s.name, "schematic": s.schematic}),
            area_json(&s.geometry),
        )
    }))
}

/// Communities as a FeatureCollection (`code`, `name`, `street_code`, `schematic`).
pub fn communities_to_geojson(items: &[Community]) -> String {
    collection(items.iter().map(|c| {
        feature(
            json!({"code": c.code, "name": c.name, "street_code": c.code.get(..9), "schematic": c.schematic}),
            area_json(&c.geometry),
        )
    }))
}

/// Unit grids as a FeatureCollection (`code`, `community_code`, `street_code`, `schematic`).
pub fn grids_to_geojson(items: &[UnitGrid]) -> String {
    collection(items.iter().map(|g| {
        feature(
            json!({
                "code": g.code,
                "community_code": g.code.get(..12),
                "street_code": g.code.get(..9),
                "schematic": g.schematic,
            }),
            area_json(&g.geometry),
        )
    }))
}

/// Road segments as a FeatureCollection (`id`, `road_name`, `street_code`, `schematic`).
pub fn segments_to_geojson(items: &[RoadSegment]) -> String {
    collection(items.iter().map(|s| {
        feature(
            json!({
                "id": s.id,
                "road_name": s.road_name,
                "street_code": s.street_code,
                "schematic": s.schematic,
            }),
            json!({"type": "LineString", "coordinates": line_json(&s.geometry)}),
        )
    }))
}

fn line_json(l: &LineString) -> Json {
    Json::Array(l.0.iter().map(|c| json!([c.x, c.y])).collect())
}

fn polygon_json(p: &Polygon) -> Json {
    Json::Array(
        std::iter::once(p.exterior())
            .chain(p.interiors())
            .map(line_json)
            .collect(),
    )
}

fn area_json(mp: &MultiPolygon) -> Json {
    match mp.0.as_slice() {
        [p] => json!({"type": "Polygon", "coordinates": polygon_json(p)}),
        ps => {
            json!({"type": "MultiPolygon", "coordinates": ps.iter().map(polygon_json).collect::<Vec<_>>()})
        }
    }
}

fn feature(properties: Json, geometry: Json) -> Json {
    let mut m = Map::new();
    m.insert("type".into(), Json::String("Feature".into()));
    m.insert("properties".into(), properties);
    m.insert("geometry".into(), geometry);
    Json::Object(m)
}

fn collection(features: impl Iterator<Item = Json>) -> String {
    let mut s = String::from("{\"type\":\"FeatureCollection\",\"features\":[\n");
    let mut first = true;
    for f in features {
        if !first {
            s.push_str(",\n");
        }
        first = false;
        // Writing into a String cannot fail.
        let _ = write!(s, "{f}");
    }
    s.push_str("\n]}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn way(id: &str, pts: &[(f64, f64)]) -> OsmWay {
        OsmWay {
            id: id.into(),
            name: String::new(),
            coords: pts.iter().map(|&(x, y)| Coord { x, y }).collect(),
        }
    }

    #[test]
    fn splits_at_shared_interior_vertices_only() {
        // A crosses B at (1,0); C ends on A's end vertex (2,0), which is not interior.
        let a = way("1", &[(0.0, 0.0), (1.0, 0.0), (2.0, 0.0)]);
        let b = way("2", &[(1.0, -1.0), (1.0, 0.0), (1.0, 1.0)]);
        let c = way("3", &[(2.0, 0.0), (3.0, 0.0)]);
        let segs = split_ways_at_intersections(&[a, b, c]);
        let ids: Vec<&str> = segs.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["1-000", "1-001", "2-000", "2-001", "3-000"]);
        assert_eq!(segs[0].geometry.0.len(), 2);
    }

    #[test]
    fn loop_vertex_splits_its_own_way() {
        let a = way(
            "7",
            &[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (1.0, 0.0), (2.0, 0.0)],
        );
        assert_eq!(split_ways_at_intersections(&[a]).len(), 3);
    }

    #[test]
    fn broken_json_is_one_file_error() {
        let e = parse_streets("{\"type\": \"FeatureCollection\", \"features\": [").unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].feature_id, "-");
        assert!(
            e[0].reason.starts_with("invalid GeoJSON"),
            "{}",
            e[0].reason
        );
    }

    #[test]
    fn unclosed_and_short_rings_name_the_feature() {
        let text = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"code":"410103001","name":"A"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}},
 {"type":"Feature","properties":{"code":"410103002","name":"B"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}},
 {"type":"Feature","properties":{"name":"C"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}
]}"#;
        let e = parse_streets(text).unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
        assert_eq!(e[0].feature_id, "410103001");
        assert!(e[0].reason.contains("not closed"));
        assert_eq!(e[1].feature_id, "410103002");
        assert!(e[1].reason.contains("at least 4"));
        assert_eq!(e[2].feature_id, "#2");
    }

    #[test]
    fn float_osm_ids_become_integers() {
        let text = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"osm_id":426488477.0,"name":"Washington Street"},"geometry":{"type":"LineString","coordinates":[[-71.07,42.34],[-71.06,42.34]]}}]}"#;
        let s = parse_roads(text).unwrap();
        assert_eq!(s[0].id, "426488477-000");
        assert_eq!(s[0].road_name, "Washington Street");
    }

    #[test]
    fn segment_layer_round_trips() {
        let segs = vec![RoadSegment {
            id: "LD01001".into(),
            road_name: "京广路".into(),
            geometry: LineString(vec![
                Coord {
                    x: 113.641,
                    y: 34.75,
                },
                Coord {
                    x: 113.6410000000001,
                    y: 34.76,
                },
            ]),
            street_code: Some("410103008".into()),
            schematic: true,
        }];
        let text = segments_to_geojson(&segs);
        assert!(text.contains("京广路"));
        assert_eq!(parse_roads(&text).unwrap(), segs);
    }
}
