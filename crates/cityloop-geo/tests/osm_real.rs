//! Routing and import/export on real OpenStreetMap geometry (Boston Back Bay, Hsinchu NCTU).

mod common;

use cityloop_geo::layers::{parse_roads, segments_to_geojson};
use cityloop_geo::metric::metres_per_degree;
use geo::{Closest, Distance, Haversine, HaversineClosestPoint, Point};

use common::{geo_text, osm_router};

/// Independent reference: great-circle distance (haversine) from a point to a line string.
fn haversine_to_line(p: Point, line: &geo::LineString) -> f64 {
    match line.haversine_closest_point(&p) {
        Closest::Intersection(c) | Closest::SinglePoint(c) => Haversine::distance(p, c),
        Closest::Indeterminate => f64::INFINITY,
    }
}

/// Independent reference: Euclidean distance in raw degrees (what plain KNN ranks by).
fn degree_distance(p: (f64, f64), line: &geo::LineString) -> f64 {
    line.0
        .windows(2)
        .map(|w| {
            let (ax, ay, bx, by) = (w[0].x, w[0].y, w[1].x, w[1].y);
            let (dx, dy) = (bx - ax, by - ay);
            let l2 = dx * dx + dy * dy;
            let t = if l2 > 0.0 {
                (((p.0 - ax) * dx + (p.1 - ay) * dy) / l2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            (ax + t * dx - p.0).hypot(ay + t * dy - p.1)
        })
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn point_on_a_named_way_routes_to_that_way() {
    for file in [
        "boston_backbay_osm_roads.geojson",
        "hsinchu_nctu_osm_roads.geojson",
    ] {
        let (t, r) = osm_router(file);
        let mut checked = 0;
        for s in t
            .segments()
            .iter()
            .filter(|s| !s.road_name.is_empty())
            .step_by(7)
            .take(40)
        {
            // The middle of the segment's longest piece lies on the way.
            let w = s
                .geometry
                .0
                .windows(2)
                .max_by(|a, b| {
                    let la = (a[1].x - a[0].x).hypot(a[1].y - a[0].y);
                    let lb = (b[1].x - b[0].x).hypot(b[1].y - b[0].y);
                    la.total_cmp(&lb)
                })
                .expect("a segment has a piece");
            let (lon, lat) = ((w[0].x + w[1].x) / 2.0, (w[0].y + w[1].y) / 2.0);
            let hit = r
                .route(lon, lat)
                .segment
                .expect("a point on a road has a segment");
            assert!(hit.distance_m < 0.01, "{file} {}: {hit:?}", s.id);
            assert_eq!(
                hit.road_name, s.road_name,
                "{file}: point on {} ({})",
                s.id, s.road_name
            );
            checked += 1;
        }
        assert!(checked >= 30, "{file}: only {checked} named segments");
    }
    // And a hand-picked one: 光復路二段 in Hsinchu.
    let (t, r) = osm_router("hsinchu_nctu_osm_roads.geojson");
    let s = t
        .segments()
        .iter()
        .find(|s| s.road_name == "光復路二段")
        .expect("光復路二段 present");
    let c = s.geometry.0[0];
    let d = s.geometry.0[1];
    let hit = r
        .route((c.x + d.x) / 2.0, (c.y + d.y) / 2.0)
        .segment
        .expect("on the road");
    assert_eq!(hit.road_name, "光復路二段");
}

#[test]
fn point_between_two_roads_goes_to_the_nearer_in_metres() {
    // Scan Back Bay for points where ranking by degrees and ranking by metres disagree
    // (a degree of longitude is ~0.74 of a degree of latitude at 42° N); the router must
    // pick the nearer road in metres, as an independent haversine computation says.
    let (t, r) = osm_router("boston_backbay_osm_roads.geojson");
    let (kx, ky) = metres_per_degree(42.35);
    let mut disagreements = 0;
    let mut between = 0;
    let mut lat = 42.343;
    while lat < 42.366 {
        let mut lon = -71.082;
        while lon < -71.050 {
            let p = Point::new(lon, lat);
            let mut by_m: Vec<(f64, usize)> = t
                .segments()
                .iter()
                .enumerate()
                .map(|(i, s)| (haversine_to_line(p, &s.geometry), i))
                .collect();
            by_m.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (m0, i0) = by_m[0];
            let (m1, i1) = by_m[1];
            // Only clear cases: two different roads, both within 50 m, > 1 m apart in distance.
            let names_differ = t.segments()[i0].road_name != t.segments()[i1].road_name;
            if m1 <= 50.0 && m1 - m0 > 1.0 && names_differ {
                between += 1;
                let hit = r.route(lon, lat).segment.expect("a road within 50 m");
                assert_eq!(
                    hit.id,
                    t.segments()[i0].id,
                    "({lon}, {lat}): nearer is {} at {m0:.2} m, router gave {} at {:.2} m",
                    t.segments()[i0].id,
                    hit.id,
                    hit.distance_m
                );
                assert!(
                    (hit.distance_m - m0).abs() < 0.01 * m0 + 0.01,
                    "{} vs {m0}",
                    hit.distance_m
                );
                let i_deg = (0..t.segments().len())
                    .min_by(|&a, &b| {
                        degree_distance((lon, lat), &t.segments()[a].geometry)
                            .total_cmp(&degree_distance((lon, lat), &t.segments()[b].geometry))
                    })
                    .expect("segments");
                if i_deg != i0 {
                    disagreements += 1;
                }
            }
            lon += 40.0 / kx;
        }
        lat += 40.0 / ky;
    }
    assert!(between > 100, "only {between} points between two roads");
    assert!(
        disagreements > 0,
        "no point where degrees and metres disagree: the test proves nothing"
    );
    println!("{between} points between roads, {disagreements} where degree ranking would be wrong");
}

#[test]
fn point_60_m_from_any_road_gets_no_segment() {
    for file in [
        "hsinchu_nctu_osm_roads.geojson",
        "boston_backbay_osm_roads.geojson",
    ] {
        let (t, r) = osm_router(file);
        let bb = t
            .segments()
            .iter()
            .flat_map(|s| s.geometry.0.iter())
            .fold((f64::MAX, f64::MAX, f64::MIN, f64::MIN), |b, c| {
                (b.0.min(c.x), b.1.min(c.y), b.2.max(c.x), b.3.max(c.y))
            });
        let mut found = None;
        'scan: for i in 1..200 {
            for j in 1..200 {
                let lon = bb.0 + (bb.2 - bb.0) * i as f64 / 200.0;
                let lat = bb.1 + (bb.3 - bb.1) * j as f64 / 200.0;
                let p = Point::new(lon, lat);
                let d = t
                    .segments()
                    .iter()
                    .map(|s| haversine_to_line(p, &s.geometry))
                    .fold(f64::INFINITY, f64::min);
                if (58.0..65.0).contains(&d) {
                    found = Some((lon, lat, d));
                    break 'scan;
                }
            }
        }
        let (lon, lat, d) =
            found.unwrap_or_else(|| panic!("{file}: no point ~60 m from every road"));
        let route = r.route(lon, lat);
        assert!(
            route.segment.is_none(),
            "{file}: ({lon}, {lat}) is {d:.1} m away but got {:?}",
            route.segment
        );
        let hit = r
            .nearest_segment_within(lon, lat, 100.0)
            .expect("within 100 m");
        assert!(
            (hit.distance_m - d).abs() < 0.01 * d,
            "{file}: {} vs {d}",
            hit.distance_m
        );
    }
}

#[test]
fn hsinchu_chinese_names_round_trip_byte_for_byte() {
    let raw = geo_text("hsinchu_nctu_osm_roads.geojson");
    // Every name in the source, read with plain serde_json.
    let src: serde_json::Value = serde_json::from_str(&raw).expect("json");
    let mut names: Vec<String> = src["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter_map(|f| f["properties"]["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    assert!(names.iter().any(|n| n == "光復路二段"));
    assert!(names.len() > 50, "{} names", names.len());

    let segments = parse_roads(&raw).expect("parse");
    let exported = segments_to_geojson(&segments);
    for n in &names {
        // Raw UTF-8 bytes, not \u escapes.
        let needle = format!("\"road_name\":\"{n}\"");
        assert!(
            exported.contains(&needle),
            "{n} not found byte for byte in the export"
        );
    }
    assert!(
        !exported.contains("\\u"),
        "the export escapes non-ASCII characters"
    );
    // Import of the export gives the same segments, and exporting again the same bytes.
    let again = parse_roads(&exported).expect("re-parse");
    assert_eq!(again, segments);
    assert_eq!(segments_to_geojson(&again).as_bytes(), exported.as_bytes());
    // Each way's name is carried by all its segments.
    let mut exported_names: Vec<&str> = again
        .iter()
        .map(|s| s.road_name.as_str())
        .filter(|n| !n.is_empty())
        .collect();
    exported_names.sort_unstable();
    exported_names.dedup();
    assert_eq!(
        exported_names,
        names.iter().map(String::as_str).collect::<Vec<_>>()
    );
}

#[test]
fn osm_ways_are_split_at_intersections() {
    let (t, _) = osm_router("hsinchu_nctu_osm_roads.geojson");
    // 1,173 ways become more segments, and no segment has an interior vertex shared with
    // another segment.
    assert!(t.segments().len() > 1_173, "{}", t.segments().len());
    let mut count = std::collections::HashMap::new();
    for s in t.segments() {
        for c in &s.geometry.0 {
            *count.entry((c.x.to_bits(), c.y.to_bits())).or_insert(0u32) += 1;
        }
    }
    for s in t.segments() {
        let n = s.geometry.0.len();
        for c in &s.geometry.0[1..n - 1] {
            assert_eq!(
                count[&(c.x.to_bits(), c.y.to_bits())],
                1,
                "{} has a shared interior vertex",
                s.id
            );
        }
    }
}
