//! `cityloop bench patrol`: matching patrol trails to road segments
//! (`cityloop_geo::patrol::coverage`) on a large road network, per 1,000 trail points,
//! beside the brute-force match that measures every segment against every trail piece, in
//! the same run, with the answers compared.
//!
//! Network: an OSM road file (default the Phoenix AZ303 extract of ../shared/data/geo/,
//! 22,047 segments after splitting at intersections). Trails: random segments walked 6 m off
//! their line, a point every 5 m, 1,000 points per trail (fixed seed).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use cityloop_geo::metric::{metres_per_degree, LocalFrame};
use cityloop_geo::patrol::{clean, coverage, coverage_brute_force, MatchRules, TrailPoint};
use cityloop_geo::territory::{Territory, TerritoryLayers};
use cityloop_geo::Router;

/// Points per trail.
const TRAIL_POINTS: usize = 1_000;

/// A deterministic xorshift sequence.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

pub fn run(roads: Option<PathBuf>, trails: usize, brute_trails: usize) -> Result<()> {
    if trails == 0 || brute_trails == 0 || brute_trails > trails {
        bail!("--trails must be positive and --brute-trails between 1 and --trails");
    }
    let roads = roads.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/geo/phoenix_az303_osm_roads.geojson.gz")
    });
    let text = cityloop_geo::layers::read_layer_file(&roads)
        .with_context(|| format!("--roads {}", roads.display()))?;
    let segments = cityloop_geo::layers::parse_roads(&text)
        .map_err(|e| anyhow::anyhow!("{} problems in the road file", e.len()))?;
    let t = Territory::new(TerritoryLayers {
        segments,
        ..Default::default()
    })
    .map_err(|e| anyhow::anyhow!("{} problems in the territory", e.len()))?;
    let router = Router::new(&t);
    let rules = MatchRules::default();
    println!(
        "cityloop bench patrol: {} segments ({}), {trails} trails of {TRAIL_POINTS} points \
         (brute force on the first {brute_trails}), tolerance {} m, share {}",
        router.segment_count(),
        roads.display(),
        rules.tolerance_m,
        rules.min_share
    );

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let segs = t.segments();
    let mut all = Vec::with_capacity(trails);
    for _ in 0..trails {
        let mut pts: Vec<TrailPoint> = Vec::with_capacity(TRAIL_POINTS);
        let mut clock = 0i64;
        while pts.len() < TRAIL_POINTS {
            // An hour between segments: each is its own run, and no jump.
            clock += 3_600_000;
            let s = &segs[(rng.next() % segs.len() as u64) as usize];
            let (kx, ky) = metres_per_degree(s.geometry.0[0].y);
            for w in s.geometry.0.windows(2) {
                let f = LocalFrame::at(w[0].x, w[0].y);
                let (bx, by) = f.project(w[1].x, w[1].y);
                let n = (bx.hypot(by) / 5.0).ceil().max(1.0) as usize;
                for k in 0..n {
                    if pts.len() == TRAIL_POINTS {
                        break;
                    }
                    let u = k as f64 / n as f64;
                    clock += 2_000;
                    pts.push(TrailPoint {
                        t_ms: clock,
                        lon: w[0].x + (u * bx + 6.0) / kx,
                        lat: w[0].y + u * by / ky,
                        accuracy_m: Some(8.0),
                    });
                }
            }
        }
        all.push(pts);
    }
    // Runs per trail as the service makes them (nothing is dropped: no district here).
    let cleaned: Vec<_> = all
        .iter()
        .map(|p| clean(p, i64::MAX / 2, &rules, |_, _| true))
        .collect();

    let t0 = Instant::now();
    let mut credited = 0usize;
    let mut fast = Vec::with_capacity(trails);
    for c in &cleaned {
        let r = coverage(&router, c, &rules);
        credited += r.iter().filter(|s| s.credited).count();
        fast.push(r);
    }
    let index_s = t0.elapsed().as_secs_f64();

    let t1 = Instant::now();
    let mut slow = Vec::with_capacity(brute_trails);
    for c in cleaned.iter().take(brute_trails) {
        slow.push(coverage_brute_force(&router, c, &rules));
    }
    let brute_s = t1.elapsed().as_secs_f64();
    let same = slow.iter().zip(&fast).all(|(a, b)| a == b);
    if !same {
        bail!("the index and the brute force disagree");
    }

    let t2 = Instant::now();
    for p in &all {
        std::hint::black_box(clean(p, i64::MAX / 2, &rules, |_, _| true));
    }
    let clean_s = t2.elapsed().as_secs_f64();

    let per_k = |secs: f64, n: usize| secs * 1e3 / n as f64;
    let index_ms = per_k(index_s, trails);
    let brute_ms = per_k(brute_s, brute_trails);
    println!("| step | ms per 1,000 points |");
    println!("|---|---|");
    println!(
        "| cleaning (speed, gaps, accuracy) | {:.3} |",
        per_k(clean_s, trails)
    );
    println!("| coverage, R-tree candidates | {index_ms:.3} |");
    println!("| coverage, brute force (every segment) | {brute_ms:.1} |");
    println!(
        "index is {:.0}× faster than brute force; answers identical on {brute_trails} trails; \
         {:.1} segments credited per trail",
        brute_ms / index_ms,
        credited as f64 / trails as f64
    );
    Ok(())
}
