//! GCJ-02 handling on the real 2021 Zhengzhou road-collapse reports: why the coordinate
//! system flag matters.

mod common;

use cityloop_geo::layers::parse_districts;
use cityloop_geo::{to_wgs84, CoordSystem, Layer, Router, Territory, TerritoryLayers};

use common::geo_text;

/// A router over Zhengzhou's districts (all as "neighbours": the answer is which one).
fn districts_router(file: &str) -> Router {
    let neighbours =
        parse_districts(&geo_text(file), Layer::Neighbours).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(neighbours.len(), 12);
    let t = Territory::new(TerritoryLayers {
        neighbours,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e:?}"));
    Router::new(&t)
}

/// (label, lon, lat) of each report: the point, or the first vertex of a line.
fn reports() -> Vec<(String, f64, f64)> {
    let v: serde_json::Value = serde_json::from_str(&geo_text(
        "zhengzhou_road_collapse_reports_2021-07.gcj02.geojson",
    ))
    .expect("json");
    v["features"]
        .as_array()
        .expect("features")
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let g = &f["geometry"];
            let c = match g["type"].as_str() {
                Some("Point") => &g["coordinates"],
                Some("LineString") => &g["coordinates"][0],
                other => panic!("unexpected geometry {other:?}"),
            };
            let label = f["properties"]["地点"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("#{i}"));
            (
                label,
                c[0].as_f64().expect("lon"),
                c[1].as_f64().expect("lat"),
            )
        })
        .collect()
}

fn district_of(r: &Router, lon: f64, lat: f64) -> Option<String> {
    r.route(lon, lat)
        .neighbour_district
        .map(|a| format!("{} {}", a.code, a.name))
}

#[test]
fn converted_reports_land_where_gcj02_polygons_say() {
    let gcj = districts_router("zhengzhou_districts.gcj02.geojson");
    let wgs = districts_router("zhengzhou_districts.wgs84.geojson");
    let reports = reports();
    assert_eq!(reports.len(), 28);
    let mut misread = Vec::new();
    for (label, lon, lat) in &reports {
        let truth = district_of(&gcj, *lon, *lat);
        assert!(
            truth.is_some(),
            "{label}: outside every district even in GCJ-02"
        );
        let (wlon, wlat) = to_wgs84(CoordSystem::Gcj02, *lon, *lat);
        assert_eq!(
            district_of(&wgs, wlon, wlat),
            truth,
            "{label}: converted point"
        );
        // The same numbers taken as WGS84 (the bug the flag prevents).
        let naive = district_of(&wgs, *lon, *lat);
        if naive != truth {
            misread.push((label.clone(), truth.clone(), naive));
        }
    }
    assert!(
        !misread.is_empty(),
        "no border case: the test proves nothing"
    );
    println!(
        "read as WGS84 by mistake, {} of 28 land elsewhere: {misread:?}",
        misread.len()
    );
}

#[test]
fn taikang_road_at_minzhu_road_is_in_erqi() {
    let wgs = districts_router("zhengzhou_districts.wgs84.geojson");
    let (_, lon, lat) = reports()
        .into_iter()
        .find(|r| r.0.starts_with("太康路民主路"))
        .expect("the 太康路民主路 report");
    let (wlon, wlat) = to_wgs84(CoordSystem::Gcj02, lon, lat);
    assert_eq!(
        district_of(&wgs, wlon, wlat).as_deref(),
        Some("410103 二七区")
    );
    // Read as WGS84 without conversion it lands in 金水区.
    assert_eq!(
        district_of(&wgs, lon, lat).as_deref(),
        Some("410105 金水区")
    );
    // And with the demo territory it is inside the district, with a street office.
    let demo = cityloop_geo::demo_erqi().expect("demo");
    let r = Router::new(&demo);
    let route = r.route(wlon, wlat);
    assert!(!route.outside_district, "{route:?}");
    assert!(
        route.street.is_some() && route.grid_code.is_some(),
        "{route:?}"
    );
    let naive = r.route(lon, lat);
    assert!(naive.outside_district);
    assert_eq!(
        naive.neighbour_district.map(|a| a.name).as_deref(),
        Some("金水区")
    );
}
