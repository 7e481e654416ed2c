//! Hand-computed coverage figures: a 200 m east–west segment walked along, across, beside at
//! 30 m and with a gap, and the dropped-point counts of a bad trail.

use super::*;
use crate::metric::metres_per_degree;
use crate::territory::{RoadSegment, Territory, TerritoryLayers};

const LON0: f64 = 113.60;
const LAT0: f64 = 34.70;

/// WGS84 position `x` metres east and `y` metres north of the origin.
fn at(x: f64, y: f64) -> (f64, f64) {
    let (kx, ky) = metres_per_degree(LAT0);
    (LON0 + x / kx, LAT0 + y / ky)
}

fn seg(id: &str, pts: &[(f64, f64)]) -> RoadSegment {
    RoadSegment {
        id: id.into(),
        road_name: "测试路".into(),
        geometry: LineString::from(pts.iter().map(|&(x, y)| at(x, y)).collect::<Vec<_>>()),
        street_code: None,
        schematic: false,
    }
}

/// One segment `S` from (0, 0) to (200, 0), and `T` far away.
fn router() -> Router {
    let t = Territory::new(TerritoryLayers {
        segments: vec![
            seg("S", &[(0.0, 0.0), (200.0, 0.0)]),
            seg("T", &[(0.0, 1000.0), (200.0, 1000.0)]),
        ],
        ..Default::default()
    })
    .unwrap();
    Router::new(&t)
}

/// Points at metre offsets, one every `step_s` seconds from `t0_s`.
fn walk(t0_s: i64, step_s: i64, xy: &[(f64, f64)]) -> Vec<TrailPoint> {
    xy.iter()
        .enumerate()
        .map(|(k, &(x, y))| {
            let (lon, lat) = at(x, y);
            TrailPoint {
                t_ms: (t0_s + k as i64 * step_s) * 1000,
                lon,
                lat,
                accuracy_m: Some(5.0),
            }
        })
        .collect()
}

fn line(x0: f64, x1: f64, step: f64, y: f64) -> Vec<(f64, f64)> {
    let n = ((x1 - x0) / step).round() as usize;
    (0..=n).map(|k| (x0 + k as f64 * step, y)).collect()
}

const NOW: i64 = 10_000_000;

fn cover(points: &[TrailPoint], rules: &MatchRules) -> Vec<SegmentCoverage> {
    let r = router();
    let c = clean(points, NOW, rules, |_, _| true);
    let fast = coverage(&r, &c, rules);
    assert_eq!(
        fast,
        coverage_brute_force(&r, &c, rules),
        "index = brute force"
    );
    fast
}

fn approx(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-6, "{a} != {b}");
}

#[test]
fn a_trail_along_the_segment_covers_all_of_it() {
    let rules = MatchRules::default();
    let got = cover(&walk(0, 5, &line(0.0, 200.0, 10.0, 2.0)), &rules);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].segment_id, "S");
    approx(got[0].length_m, 200.0);
    approx(got[0].covered_m, 200.0);
    assert!(got[0].credited);
}

#[test]
fn a_trail_across_the_segment_covers_twice_the_tolerance_and_does_not_count() {
    let rules = MatchRules::default();
    let xy: Vec<(f64, f64)> = (0..=10).map(|k| (100.0, -50.0 + 10.0 * k as f64)).collect();
    let got = cover(&walk(0, 5, &xy), &rules);
    assert_eq!(got.len(), 1);
    // The crossing at x = 100 covers 80..120 m: 40 m of 200, 20 %.
    approx(got[0].covered_m, 40.0);
    approx(got[0].share, 0.2);
    assert!(!got[0].credited);
}

#[test]
fn a_trail_beside_the_segment_at_30_m_covers_nothing_at_15_m_all() {
    let rules = MatchRules::default();
    assert!(cover(&walk(0, 5, &line(0.0, 200.0, 10.0, 30.0)), &rules).is_empty());
    let got = cover(&walk(0, 5, &line(0.0, 200.0, 10.0, -15.0)), &rules);
    approx(got[0].covered_m, 200.0);
    assert!(got[0].credited);
}

#[test]
fn a_gap_in_the_trail_is_not_bridged() {
    // 0..60 m in 30 s, then nothing for 4.5 minutes, then 140..200 m.
    let mut pts = walk(0, 5, &line(0.0, 60.0, 10.0, 0.0));
    pts.extend(walk(300, 5, &line(140.0, 200.0, 10.0, 0.0)));
    let rules = MatchRules::default();
    let c = clean(&pts, NOW, &rules, |_, _| true);
    assert_eq!(c.runs.len(), 2);
    let got = cover(&pts, &rules);
    // Covered 0..80 and 120..200: 160 m of 200.
    approx(got[0].covered_m, 160.0);
    approx(got[0].share, 0.8);
    assert!(got[0].credited);
    let strict = MatchRules {
        min_share: 0.85,
        ..rules
    };
    assert!(!cover(&pts, &strict)[0].credited);
    // A spatial gap: 60 m → 180 m in 10 s (12 m/s, a believable speed, but 120 m > 100 m).
    let mut pts = walk(0, 5, &line(0.0, 60.0, 10.0, 0.0));
    pts.extend(walk(40, 5, &line(180.0, 200.0, 10.0, 0.0)));
    let got = cover(&pts, &rules);
    // 0..80 and 160..200: 120 m, exactly the 60 % share (inclusive).
    approx(got[0].covered_m, 120.0);
    assert!(got[0].credited);
}

#[test]
fn walking_a_road_twice_counts_its_length_once() {
    let mut xy = line(0.0, 100.0, 10.0, 0.0);
    xy.extend(line(100.0, 0.0, -10.0, 3.0).into_iter().skip(1));
    let got = cover(&walk(0, 5, &xy), &MatchRules::default());
    // 0..120 (the turn at 100 reaches 20 m further): 60 %.
    approx(got[0].covered_m, 120.0);
}

#[test]
fn bad_points_are_dropped_and_counted_and_never_credit() {
    let rules = MatchRules::default();
    let mut pts = walk(0, 5, &line(0.0, 50.0, 10.0, 0.0));
    // A jump of 1 km in 5 s (200 m/s) onto segment T.
    let (lon, lat) = at(100.0, 1000.0);
    pts.push(TrailPoint {
        t_ms: 30_000,
        lon,
        lat,
        accuracy_m: None,
    });
    // Sampled 10 minutes after "now".
    let mut future = pts[0];
    future.t_ms = NOW + 600_000;
    pts.push(future);
    // Not later than the last kept point.
    let mut old = pts[1];
    old.t_ms = 5_000;
    pts.push(old);
    // 80 m accuracy.
    let mut vague = walk(40, 5, &[(60.0, 0.0)])[0];
    vague.accuracy_m = Some(80.0);
    pts.push(vague);
    // Not a position.
    let mut nan = pts[0];
    nan.t_ms = 45_000;
    nan.lat = f64::NAN;
    pts.push(nan);
    // Outside the district (everything north of 2 km is "outside").
    pts.extend(walk(50, 5, &[(60.0, 2500.0)]));
    let inside = |_: f64, lat: f64| lat < at(0.0, 2000.0).1;
    let c = clean(&pts, NOW, &rules, inside);
    assert_eq!(
        c.dropped,
        Dropped {
            invalid: 1,
            inaccurate: 1,
            future: 1,
            outside: 1,
            out_of_order: 1,
            jump: 1,
        }
    );
    assert_eq!(c.kept(), 6);
    let got = coverage(&router(), &c, &rules);
    assert_eq!(got.len(), 1, "T was never reached: {got:?}");
    // 0..70 m of S.
    approx(got[0].covered_m, 70.0);
    assert!(!got[0].credited);
}

#[test]
fn index_equals_brute_force_on_the_demo_district() {
    let t = crate::demo::demo_erqi().unwrap();
    let r = Router::new(&t);
    let rules = MatchRules::default();
    // Walk each of a spread of demo roads, 7 m north-east of its line, every 8 m.
    for s in t.segments().iter().step_by(23) {
        let (kx, ky) = metres_per_degree(s.geometry.0[0].y);
        let mut pts = Vec::new();
        for w in s.geometry.0.windows(2) {
            let f = LocalFrame::at(w[0].x, w[0].y);
            let (bx, by) = f.project(w[1].x, w[1].y);
            let n = ((bx.hypot(by)) / 8.0).ceil().max(1.0) as usize;
            for k in 0..n {
                let u = k as f64 / n as f64;
                pts.push(TrailPoint {
                    t_ms: pts.len() as i64 * 2000,
                    lon: w[0].x + (u * bx + 5.0) / kx,
                    lat: w[0].y + (u * by + 5.0) / ky,
                    accuracy_m: None,
                });
            }
        }
        let c = clean(&pts, i64::MAX / 2, &rules, |_, _| true);
        let fast = coverage(&r, &c, &rules);
        assert_eq!(fast, coverage_brute_force(&r, &c, &rules), "{}", s.id);
        let own = fast.iter().find(|x| x.segment_id == s.id).unwrap();
        assert!(own.credited, "{}: {own:?}", s.id);
    }
}

#[test]
fn rules_out_of_range_name_the_field() {
    let bad = MatchRules {
        min_share: 1.5,
        ..MatchRules::default()
    };
    assert_eq!(bad.validate().unwrap_err().0, "min_share");
    assert!(MatchRules::default().validate().is_ok());
}
