//! The embedded demo district 二七区.

use std::sync::OnceLock;

use cityloop_geo::layers::{export_territory, territory_from_geojson, LayerTexts};
use cityloop_geo::{demo_erqi, Router, Territory};
use geo::coordinate_position::{CoordPos, CoordinatePosition};
use geo::InteriorPoint;

fn demo() -> &'static (Territory, Router) {
    static DEMO: OnceLock<(Territory, Router)> = OnceLock::new();
    DEMO.get_or_init(|| {
        let t = demo_erqi().unwrap_or_else(|e| panic!("demo does not validate: {e}"));
        let r = Router::new(&t);
        (t, r)
    })
}

/// The 15 official street offices of 二七区 (zhengzhou_subdistricts.csv, 2023/2024).
const OFFICIAL: [(&str, &str); 15] = [
    ("410103001", "淮河路街道"),
    ("410103002", "解放路街道"),
    ("410103003", "铭功路街道"),
    ("410103004", "一马路街道"),
    ("410103005", "蜜蜂张街道"),
    ("410103006", "五里堡街道"),
    ("410103007", "大学路街道"),
    ("410103008", "建中街街道"),
    ("410103009", "福华街街道"),
    ("410103010", "德化街街道"),
    ("410103011", "嵩山路街道"),
    ("410103012", "长江路街道"),
    ("410103013", "京广路街道"),
    ("410103015", "侯寨街道"),
    ("410103100", "马寨镇"),
];

#[test]
fn loads_clean_with_fifteen_official_streets() {
    let (t, _) = demo();
    let d = t.district().expect("district");
    assert_eq!(
        (d.code.as_str(), d.name.as_str(), d.schematic),
        ("410103", "二七区", false)
    );
    let streets: Vec<(&str, &str)> = t
        .streets()
        .iter()
        .map(|s| (s.code.as_str(), s.name.as_str()))
        .collect();
    assert_eq!(streets, OFFICIAL);
    assert!(t.streets().iter().all(|s| s.schematic));
    assert_eq!(t.neighbours().len(), 11);
    for s in t.streets() {
        let n = t
            .communities()
            .iter()
            .filter(|c| c.code.starts_with(&s.code))
            .count();
        assert!((2..=4).contains(&n), "{} has {n} communities", s.name);
    }
    assert!(t.grids().len() > 5_000, "{} grids", t.grids().len());
    assert!((30..=60).contains(
        &t.segments()
            .iter()
            .map(|s| &s.road_name)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    ));
}

#[test]
fn every_grid_lies_in_exactly_one_community_and_street() {
    let (t, _) = demo();
    for g in t.grids() {
        assert_eq!(g.code.len(), 15);
        assert!(g.code.starts_with("410103") && g.schematic);
        let p = g.geometry.interior_point().expect("interior point");
        let c = p.0;
        let communities: Vec<&str> = t
            .communities()
            .iter()
            .filter(|k| k.geometry.coordinate_position(&c) == CoordPos::Inside)
            .map(|k| k.code.as_str())
            .collect();
        assert_eq!(communities, [&g.code[..12]], "grid {}", g.code);
        let streets: Vec<&str> = t
            .streets()
            .iter()
            .filter(|s| s.geometry.coordinate_position(&c) == CoordPos::Inside)
            .map(|s| s.code.as_str())
            .collect();
        assert_eq!(streets, [&g.code[..9]], "grid {}", g.code);
    }
}

#[test]
fn grid_sequence_runs_west_to_east_then_north_to_south() {
    let (t, _) = demo();
    // Full lattice cells (axis-aligned rectangles) of a community, in code order, are sorted
    // by row from north to south, then by column from west to east.
    for c in t.communities() {
        let cells: Vec<(f64, f64)> = t
            .grids()
            .iter()
            .filter(|g| g.code.starts_with(&c.code))
            .filter_map(|g| {
                let ring = &g.geometry.0[0].exterior().0;
                let xs: std::collections::BTreeSet<u64> =
                    ring.iter().map(|p| p.x.to_bits()).collect();
                let ys: std::collections::BTreeSet<u64> =
                    ring.iter().map(|p| p.y.to_bits()).collect();
                (ring.len() == 5 && xs.len() == 2 && ys.len() == 2).then(|| {
                    let top = ring.iter().map(|p| p.y).fold(f64::MIN, f64::max);
                    let left = ring.iter().map(|p| p.x).fold(f64::MAX, f64::min);
                    (top, left)
                })
            })
            .collect();
        assert!(!cells.is_empty(), "{} has no full cells", c.code);
        for w in cells.windows(2) {
            let ((t0, l0), (t1, l1)) = (w[0], w[1]);
            assert!(
                t1 < t0 - 1e-9 || ((t1 - t0).abs() < 1e-9 && l1 > l0),
                "{}: {w:?}",
                c.code
            );
        }
    }
}

#[test]
fn every_segment_has_its_street() {
    let (t, _) = demo();
    assert!(t.segments().len() > 100);
    for s in t.segments() {
        let sc = s
            .street_code
            .as_deref()
            .unwrap_or_else(|| panic!("{} has no street", s.id));
        assert!(t.streets().iter().any(|st| st.code == sc));
        assert!(s.schematic);
    }
}

#[test]
fn the_centre_of_each_street_routes_to_it() {
    let (t, r) = demo();
    for s in t.streets() {
        let p = s.geometry.interior_point().expect("interior point");
        let route = r.route(p.x(), p.y());
        assert!(!route.outside_district);
        assert_eq!(
            route.district.as_ref().map(|d| d.name.as_str()),
            Some("二七区")
        );
        let street = route.street.as_ref().expect("a street");
        assert_eq!(
            (street.code.as_str(), street.name.as_str()),
            (s.code.as_str(), s.name.as_str())
        );
        let community = route.community.as_ref().expect("a community");
        assert!(community.code.starts_with(&s.code));
        assert!(route
            .grid_code
            .as_deref()
            .expect("a grid")
            .starts_with(&community.code));
        assert!(route.schematic);
    }
}

#[test]
fn a_point_in_jinshui_is_outside_with_its_neighbour() {
    let (_, r) = demo();
    // 金水区, north of 二七区 (郑州 CBD area, WGS84).
    let route = r.route(113.6600, 34.7900);
    assert!(route.outside_district, "{route:?}");
    assert!(route.street.is_none() && route.grid_code.is_none() && route.district.is_none());
    let n = route.neighbour_district.expect("a neighbour");
    assert_eq!((n.code.as_str(), n.name.as_str()), ("410105", "金水区"));
}

#[test]
fn demo_export_round_trips() {
    let (t, _) = demo();
    let e = export_territory(t);
    let texts = LayerTexts {
        district: e.district.as_deref(),
        neighbours: Some(&e.neighbours),
        streets: Some(&e.streets),
        communities: Some(&e.communities),
        grids: Some(&e.grids),
        roads: Some(&e.roads),
    };
    let again = territory_from_geojson(&texts).expect("re-import");
    assert_eq!(&again, t);
    assert_eq!(export_territory(&again), e);
}

#[test]
fn route_serializes_to_json() {
    let (_, r) = demo();
    let s = r.segment_count();
    assert!(s > 0);
    let street = &demo().0.streets()[0];
    let p = street.geometry.interior_point().expect("point");
    let json = serde_json::to_value(r.route(p.x(), p.y())).expect("json");
    assert_eq!(json["outside_district"], false);
    assert_eq!(json["district"]["code"], "410103");
    assert_eq!(json["street"]["name"], street.name.as_str());
    assert!(json["grid_code"].as_str().is_some_and(|g| g.len() == 15));
}
