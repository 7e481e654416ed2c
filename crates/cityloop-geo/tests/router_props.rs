//! Property tests: the indexed router equals a brute-force scan on random points.

mod common;

use std::sync::OnceLock;

use cityloop_geo::{demo_erqi, Router, Territory};
use proptest::prelude::*;

fn demo() -> &'static (Territory, Router) {
    static DEMO: OnceLock<(Territory, Router)> = OnceLock::new();
    DEMO.get_or_init(|| {
        let t = demo_erqi().unwrap_or_else(|e| panic!("{e}"));
        let r = Router::new(&t);
        (t, r)
    })
}

fn boston() -> &'static (Territory, Router) {
    static B: OnceLock<(Territory, Router)> = OnceLock::new();
    B.get_or_init(|| common::osm_router("boston_backbay_osm_roads.geojson"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Anywhere in and around 二七区 (neighbours included).
    #[test]
    fn demo_route_equals_brute_force(lon in 113.48f64..113.70, lat in 34.58f64..34.80) {
        let (_, r) = demo();
        prop_assert_eq!(r.route(lon, lat), r.route_brute_force(lon, lat));
    }

    /// Near the demo's road vertices and junctions, where ties happen, with any tolerance.
    #[test]
    fn demo_nearest_near_vertices(i in 0usize..100_000, dx in -0.0008f64..0.0008, dy in -0.0008f64..0.0008, tol in 0.0f64..200.0) {
        let (t, r) = demo();
        let segs = t.segments();
        let s = &segs[i % segs.len()];
        let v = s.geometry.0[(i / segs.len()) % s.geometry.0.len()];
        let (lon, lat) = (v.x + dx, v.y + dy);
        prop_assert_eq!(r.nearest_segment_within(lon, lat, tol), r.nearest_segment_brute_force(lon, lat, tol));
    }

    /// Real OSM geometry (Back Bay), 50 m default tolerance.
    #[test]
    fn boston_nearest_equals_brute_force(lon in -71.086f64..-71.045, lat in 42.339f64..42.370) {
        let (_, r) = boston();
        prop_assert_eq!(r.nearest_segment(lon, lat), r.nearest_segment_brute_force(lon, lat, 50.0));
        prop_assert_eq!(r.route(lon, lat), r.route_brute_force(lon, lat));
    }

    /// Exactly on a vertex shared by several Boston segments: distance 0, lowest id.
    #[test]
    fn boston_shared_vertex_ties_go_to_lowest_id(i in 0usize..100_000) {
        let (t, r) = boston();
        let segs = t.segments();
        let s = &segs[i % segs.len()];
        let v = s.geometry.0[0];
        let hit = r.nearest_segment(v.x, v.y).expect("on a vertex");
        prop_assert_eq!(hit.distance_m, 0.0);
        let lowest = segs.iter().find(|o| o.geometry.0.contains(&v)).expect("itself");
        prop_assert_eq!(&hit.id, &lowest.id);
    }
}
