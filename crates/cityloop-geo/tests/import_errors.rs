//! Import rejects broken input and names the offending features; nothing half-loads.

use cityloop_geo::layers::{territory_from_geojson, LayerTexts};
use cityloop_geo::{Layer, ValidationError};

const DISTRICT: &str = r#"{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"adcode":410103,"name":"二七区"},"geometry":{"type":"Polygon","coordinates":[[[113.60,34.70],[113.62,34.70],[113.62,34.72],[113.60,34.72],[113.60,34.70]]]}}]}"#;

/// Two streets splitting the district at lon 113.61.
const STREETS: &str = r#"{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"code":"410103001","name":"西街道"},"geometry":{"type":"Polygon","coordinates":[[[113.60,34.70],[113.61,34.70],[113.61,34.72],[113.60,34.72],[113.60,34.70]]]}},
{"type":"Feature","properties":{"code":"410103002","name":"东街道"},"geometry":{"type":"Polygon","coordinates":[[[113.61,34.70],[113.62,34.70],[113.62,34.72],[113.61,34.72],[113.61,34.70]]]}}]}"#;

fn texts<'a>(streets: &'a str, roads: Option<&'a str>) -> LayerTexts<'a> {
    LayerTexts {
        district: Some(DISTRICT),
        streets: Some(streets),
        roads,
        ..Default::default()
    }
}

fn find<'a>(errs: &'a [ValidationError], id: &str) -> &'a ValidationError {
    errs.iter()
        .find(|e| e.feature_id == id)
        .unwrap_or_else(|| panic!("no error names {id}: {errs:?}"))
}

#[test]
fn valid_layers_load_and_segments_get_their_street() {
    let roads = r#"{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"id":"S1","road_name":"西路"},"geometry":{"type":"LineString","coordinates":[[113.602,34.705],[113.608,34.705]]}}]}"#;
    let t = territory_from_geojson(&texts(STREETS, Some(roads))).expect("valid");
    assert_eq!(t.segments()[0].street_code.as_deref(), Some("410103001"));
}

#[test]
fn rejects_broken_geojson() {
    let errs = territory_from_geojson(&texts(
        r#"{"type":"FeatureCollection","features":[{"type":"Feat"#,
        None,
    ))
    .expect_err("broken");
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].layer, Layer::Streets);
    assert!(errs[0].reason.contains("invalid GeoJSON"), "{}", errs[0]);
}

#[test]
fn rejects_broken_features_naming_each() {
    let streets = r#"{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"code":"410103001","name":"A"},"geometry":{"type":"Polygon","coordinates":[[[113.60,34.70],[113.61,34.70],[113.61,34.72],[113.60,34.72]]]}},
{"type":"Feature","properties":{"code":"410103002","name":"B"},"geometry":{"type":"Point","coordinates":[113.61,34.71]}},
{"type":"Feature","properties":{"code":"410103003","name":"C"},"geometry":{"type":"Polygon","coordinates":[[[113.60,34.70],[113.62,34.72],[113.62,34.70],[113.60,34.72],[113.60,34.70]]]}}]}"#;
    // Structural problems first (unclosed ring, wrong type).
    let errs = territory_from_geojson(&texts(streets, None)).expect_err("broken");
    assert!(
        find(&errs, "410103001").reason.contains("not closed"),
        "{errs:?}"
    );
    assert!(
        find(&errs, "410103002").reason.contains("Polygon"),
        "{errs:?}"
    );
    // A self-intersecting ring parses but fails validation.
    let bow_tie = r#"{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"code":"410103003","name":"C"},"geometry":{"type":"Polygon","coordinates":[[[113.60,34.70],[113.62,34.72],[113.62,34.70],[113.60,34.72],[113.60,34.70]]]}}]}"#;
    let errs = territory_from_geojson(&texts(bow_tie, None)).expect_err("bow tie");
    assert!(
        find(&errs, "410103003").reason.contains("self-intersects"),
        "{errs:?}"
    );
}

#[test]
fn rejects_overlapping_streets_and_reports_the_gap() {
    // 410103002 starts at 113.605: it overlaps 410103001 by 0.005° × 0.02° (~10 ha).
    let streets = STREETS.replace(
        "[[[113.61,34.70],[113.62,34.70],[113.62,34.72],[113.61,34.72],[113.61,34.70]]]",
        "[[[113.605,34.70],[113.62,34.70],[113.62,34.72],[113.605,34.72],[113.605,34.70]]]",
    );
    let errs = territory_from_geojson(&texts(&streets, None)).expect_err("overlap");
    let e = find(&errs, "410103001");
    assert!(e.reason.contains("overlaps street office 410103002"), "{e}");
    // And a gap: the east street ends at 113.615.
    let streets = STREETS.replace(
        "[[[113.61,34.70],[113.62,34.70],[113.62,34.72],[113.61,34.72],[113.61,34.70]]]",
        "[[[113.61,34.70],[113.615,34.70],[113.615,34.72],[113.61,34.72],[113.61,34.70]]]",
    );
    let errs = territory_from_geojson(&texts(&streets, None)).expect_err("gap");
    let e = find(&errs, "410103");
    assert!(e.reason.starts_with("gap:"), "{e}");
}

#[test]
fn rejects_overlapping_grids() {
    let grids = r#"{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"code":"410103001001001"},"geometry":{"type":"Polygon","coordinates":[[[113.600,34.700],[113.606,34.700],[113.606,34.720],[113.600,34.720],[113.600,34.700]]]}},
{"type":"Feature","properties":{"code":"410103001001002"},"geometry":{"type":"Polygon","coordinates":[[[113.605,34.700],[113.610,34.700],[113.610,34.720],[113.605,34.720],[113.605,34.700]]]}}]}"#;
    let t = LayerTexts {
        grids: Some(grids),
        ..Default::default()
    };
    let errs = territory_from_geojson(&t).expect_err("overlap");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].layer, Layer::Grids);
    assert_eq!(errs[0].feature_id, "410103001001001");
    assert!(
        errs[0].reason.contains("overlaps grid 410103001001002"),
        "{}",
        errs[0]
    );
}

#[test]
fn rejects_ownerless_and_outside_segments() {
    let roads = r#"{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"id":"OK1","road_name":"西路"},"geometry":{"type":"LineString","coordinates":[[113.602,34.705],[113.608,34.705]]}},
{"type":"Feature","properties":{"id":"OUT1","road_name":"外路"},"geometry":{"type":"LineString","coordinates":[[113.63,34.705],[113.64,34.705]]}},
{"type":"Feature","properties":{"id":"CROSS1","road_name":"横路"},"geometry":{"type":"LineString","coordinates":[[113.605,34.71],[113.615,34.71]]}},
{"type":"Feature","properties":{"id":"DUP","road_name":"甲"},"geometry":{"type":"LineString","coordinates":[[113.602,34.715],[113.603,34.715]]}},
{"type":"Feature","properties":{"id":"DUP","road_name":"乙"},"geometry":{"type":"LineString","coordinates":[[113.602,34.716],[113.603,34.716]]}}]}"#;
    let errs = territory_from_geojson(&texts(STREETS, Some(roads))).expect_err("ownerless");
    let out: Vec<&ValidationError> = errs.iter().filter(|e| e.feature_id == "OUT1").collect();
    assert!(
        out.iter()
            .any(|e| e.reason.contains("outside the district")),
        "{errs:?}"
    );
    assert!(
        out.iter().any(|e| e.reason.contains("ownerless")),
        "{errs:?}"
    );
    let cross = find(&errs, "CROSS1");
    assert!(
        cross.reason.contains("ownerless") && cross.reason.contains("410103001, 410103002"),
        "{cross}"
    );
    assert!(find(&errs, "DUP").reason.contains("duplicate"), "{errs:?}");
    assert!(errs.iter().all(|e| e.feature_id != "OK1"), "{errs:?}");
}

#[test]
fn rejects_missing_parents() {
    let communities = r#"{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"code":"410103009001","name":"无主社区"},"geometry":{"type":"Polygon","coordinates":[[[113.60,34.70],[113.61,34.70],[113.61,34.72],[113.60,34.72],[113.60,34.70]]]}}]}"#;
    let t = LayerTexts {
        communities: Some(communities),
        ..texts(STREETS, None)
    };
    let errs = territory_from_geojson(&t).expect_err("missing parent");
    let e = find(&errs, "410103009001");
    assert!(e.reason.contains("missing parent"), "{e}");
}
