//! Routing benchmark on real OSM data (Phoenix AZ303 extract), plain `std::time::Instant`.
//!
//! Loads `$CITYLOOP_SHARED/data/geo/phoenix_az303_osm_roads.geojson.gz` (default `../shared`
//! next to the workspace root), splits the ways at intersections, lays a 100 m × 100 m grid
//! over the bbox as the polygon layer, then routes 1,000,000 uniform random points (fixed
//! seed) on one thread and checks 10,000 of them against a brute-force scan.
//!
//! With `CITYLOOP_BENCH_PG` set to a PostgreSQL URL (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`), or with `--postgis` (then that URL or
//! `postgres://postgres@127.0.0.1:5432/postgres`), the same run also loads the segments and
//! grid cells into PostGIS (a scratch database, dropped at the end; needs `psql` and the
//! `postgis` extension installed on the server), routes the first `--pg-points` points
//! (default 100,000) there in one batch query per method, checks agreement with cityloop,
//! and prints the ratio. See `route/postgis.rs` and `shared/docs/benchmarks.md`.
//!
//! Run: `cargo bench -p cityloop-geo --bench route` (options: `--points N`, `--check N`,
//! `--postgis`, `--pg-points N`, `--pg-rounds N`).

#[path = "route/postgis.rs"]
mod postgis;

use std::path::PathBuf;
use std::time::Instant;

use cityloop_geo::layers::{parse_roads, read_layer_file};
use cityloop_geo::metric::metres_per_degree;
use cityloop_geo::{Router, Territory, TerritoryLayers, UnitGrid};
use geo::{Coord, MultiPolygon, Rect};

/// SplitMix64: a small fixed-seed generator (no dependency needed).
struct Rng(u64);
impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The embedded demo district: startup cost and routing over its bbox.
fn demo(points: usize) {
    let t = Instant::now();
    let territory = match cityloop_geo::demo_erqi() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("demo: {e}");
            std::process::exit(1);
        }
    };
    let load = t.elapsed();
    let t = Instant::now();
    let router = Router::new(&territory);
    let build = t.elapsed();
    let mut rng = Rng(7);
    let pts: Vec<(f64, f64)> = (0..points)
        .map(|_| {
            (
                113.49 + rng.next_f64() * 0.19,
                34.59 + rng.next_f64() * 0.19,
            )
        })
        .collect();
    let t = Instant::now();
    let mut inside = 0usize;
    for &(x, y) in &pts {
        inside += !std::hint::black_box(router.route(x, y)).outside_district as usize;
    }
    println!(
        "demo 二七区: {} streets, {} communities, {} grids, {} segments; load+validate {:.0} ms, build {:.0} ms; {:.0} ns/route over its bbox ({:.0} % inside)",
        territory.streets().len(),
        territory.communities().len(),
        territory.grids().len(),
        territory.segments().len(),
        load.as_secs_f64() * 1e3,
        build.as_secs_f64() * 1e3,
        t.elapsed().as_secs_f64() * 1e9 / points.max(1) as f64,
        100.0 * inside as f64 / points.max(1) as f64
    );
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// The PostgreSQL URL for the side-by-side run, if it was asked for.
fn pg_url() -> Option<String> {
    let env = std::env::var("CITYLOOP_BENCH_PG")
        .ok()
        .filter(|v| !v.is_empty());
    match env {
        Some(url) => Some(url),
        None if flag("--postgis") => Some("postgres://postgres@127.0.0.1:5432/postgres".into()),
        None => None,
    }
}

fn main() {
    let points = arg("--points", 1_000_000);
    let check = arg("--check", 10_000);
    let pg_points = arg("--pg-points", 100_000).min(points);
    let pg_rounds = arg("--pg-rounds", 2).max(1);
    demo(points / 10);
    let shared = std::env::var_os("CITYLOOP_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let path = shared.join("data/geo/phoenix_az303_osm_roads.geojson.gz");
    let t0 = Instant::now();
    let text = match read_layer_file(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}\nset CITYLOOP_SHARED to the shared directory (holding data/geo/)");
            std::process::exit(2);
        }
    };
    let segments = match parse_roads(&text) {
        Ok(s) => s,
        Err(errs) => {
            eprintln!("{} problems, first: {:?}", errs.len(), errs.first());
            std::process::exit(1);
        }
    };
    let load = t0.elapsed();

    // 100 m × 100 m grid over the roads' bbox.
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for s in &segments {
        for c in &s.geometry.0 {
            x0 = x0.min(c.x);
            y0 = y0.min(c.y);
            x1 = x1.max(c.x);
            y1 = y1.max(c.y);
        }
    }
    let (kx, ky) = metres_per_degree((y0 + y1) / 2.0);
    let (dx, dy) = (100.0 / kx, 100.0 / ky);
    let nx = ((x1 - x0) / dx).ceil() as usize;
    let ny = ((y1 - y0) / dy).ceil() as usize;
    let mut grids = Vec::with_capacity(nx * ny);
    for j in 0..ny {
        for i in 0..nx {
            let a = Coord {
                x: x0 + i as f64 * dx,
                y: y0 + j as f64 * dy,
            };
            let b = Coord {
                x: x0 + (i + 1) as f64 * dx,
                y: y0 + (j + 1) as f64 * dy,
            };
            grids.push(UnitGrid {
                code: format!("{:015}", j * nx + i),
                geometry: MultiPolygon(vec![Rect::new(a, b).to_polygon()]),
                schematic: false,
            });
        }
    }
    let t1 = Instant::now();
    let territory = match Territory::new(TerritoryLayers {
        grids,
        segments,
        ..Default::default()
    }) {
        Ok(t) => t,
        Err(errs) => {
            eprintln!("{} problems, first: {:?}", errs.len(), errs.first());
            std::process::exit(1);
        }
    };
    let validate = t1.elapsed();
    let t2 = Instant::now();
    let router = Router::new(&territory);
    let build = t2.elapsed();
    println!("data: {}", path.display());
    println!(
        "segments: {} (from OSM ways split at intersections), grid cells: {} ({nx} x {ny})",
        territory.segments().len(),
        territory.grids().len()
    );
    println!(
        "load+split {:.0} ms, validate {:.0} ms, build index {:.0} ms",
        load.as_secs_f64() * 1e3,
        validate.as_secs_f64() * 1e3,
        build.as_secs_f64() * 1e3
    );

    let mut rng = Rng(42);
    let pts: Vec<(f64, f64)> = (0..points)
        .map(|_| {
            (
                x0 + rng.next_f64() * (x1 - x0),
                y0 + rng.next_f64() * (y1 - y0),
            )
        })
        .collect();
    // Warm-up, then the timed run.
    for &(x, y) in pts.iter().take(10_000) {
        std::hint::black_box(router.route(x, y));
    }
    // Five rounds over all points; the best round is reported (the machines are shared and
    // noisy, see shared/docs/benchmarks.md), the mean too.
    let mut with_road = 0usize;
    let mut in_grid = 0usize;
    let mut best_route = f64::INFINITY;
    let mut total = 0.0;
    for round in 0..5 {
        let t = Instant::now();
        for &(x, y) in &pts {
            let r = std::hint::black_box(router.route(x, y));
            if round == 0 {
                with_road += r.segment.is_some() as usize;
                in_grid += r.grid_code.is_some() as usize;
            }
        }
        let ns = t.elapsed().as_secs_f64() * 1e9 / points as f64;
        best_route = best_route.min(ns);
        total += ns;
    }
    println!(
        "route: {points} points x 5 rounds, best {best_route:.0} ns/route, mean {:.0} ns/route (one core)",
        total / 5.0
    );
    println!(
        "road within 50 m: {:.1} %, in a grid cell: {:.1} %",
        100.0 * with_road as f64 / points as f64,
        100.0 * in_grid as f64 / points as f64
    );
    let mut best_nearest = f64::INFINITY;
    let mut nearest = 0usize;
    for _ in 0..3 {
        nearest = 0;
        let t = Instant::now();
        for &(x, y) in &pts {
            nearest += std::hint::black_box(router.nearest_segment(x, y)).is_some() as usize;
        }
        best_nearest = best_nearest.min(t.elapsed().as_secs_f64() * 1e9 / points as f64);
    }
    println!("nearest_segment only: best {best_nearest:.0} ns/point ({nearest} hits)");

    let t5 = Instant::now();
    let mut mismatches = 0usize;
    let n_check = check.min(points);
    for &(x, y) in pts.iter().take(n_check) {
        if router.route(x, y) != router.route_brute_force(x, y) {
            mismatches += 1;
        }
    }
    let brute_ns = t5.elapsed().as_secs_f64() * 1e9 / n_check.max(1) as f64;
    println!(
        "check: {n_check} points, indexed route vs brute-force scan: {mismatches} mismatches; brute force {:.0} µs/point = {:.0}x the indexed route (same run)",
        brute_ns / 1e3,
        brute_ns / best_route
    );

    // PostGIS side by side on the first `pg_points` of the same points.
    let pg = pg_url().map(|url| {
        let db = postgis::scratch_db_name();
        println!("postgis: {pg_points} points, {pg_rounds} round(s) per method, scratch database {db} via psql on {url}");
        let pts = &pts[..pg_points];
        match postgis::run(&url, &territory, pts, pg_rounds) {
            Ok(run) => {
                let knn = postgis::compare(&router, &territory, pts, &run.knn, 5);
                let exact = postgis::compare(&router, &territory, pts, &run.exact, 20);
                (run, knn, exact)
            }
            Err(e) => {
                eprintln!("postgis: {e}");
                std::process::exit(1);
            }
        }
    });

    let pct = |a: usize, n: usize| 100.0 * a as f64 / n.max(1) as f64;
    println!();
    println!("==== routing benchmark summary (one run; ratios are within this run) ====");
    println!("segments:                {}", territory.segments().len());
    println!("grid cells:              {}", territory.grids().len());
    println!("points:                  {points} (cityloop), {pg_points} of them for PostGIS");
    println!(
        "road within 50 m:        {:.1} % of all points (cityloop)",
        pct(with_road, points)
    );
    println!("cityloop (1 thread):     {best_route:.0} ns/route (full route: grid + nearest segment), {best_nearest:.0} ns/point (nearest segment only); best of 5 / 3 rounds");
    println!(
        "brute-force check:       {n_check} points, {mismatches} mismatches (indexed route vs scan)"
    );
    match &pg {
        None => println!("PostGIS:                 not run (set CITYLOOP_BENCH_PG=postgres://... or pass --postgis)"),
        Some((run, knn, exact)) => {
            let par = |p: bool| if p { "parallel plan" } else { "serial plan" };
            let ms = |v: &[f64]| {
                v.iter()
                    .map(|t| format!("{t:.0}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            println!("PostGIS:                 {} (load + GiST indexes {:.0} ms)", run.version, run.load_ms);
            println!(
                "  road within 50 m:      {:.2} % of the {pg_points} PostGIS points by exact-metre, {:.2} % by KNN, {:.2} % by cityloop",
                pct(exact.pg_with_road, pg_points),
                pct(knn.pg_with_road, pg_points),
                pct(exact.cityloop_with_road, pg_points)
            );
            println!(
                "  KNN <-> + ST_Contains: {:.1} µs/point (one batch query, best of [{}] ms; {})",
                run.knn_us,
                ms(&run.knn_rounds_ms),
                par(run.knn_parallel)
            );
            println!(
                "  exact-metre:           {:.1} µs/point (ST_DWithin/ST_Distance geography + ST_Contains, one batch query, best of [{}] ms; {})",
                run.exact_us,
                ms(&run.exact_rounds_ms),
                par(run.exact_parallel)
            );
            println!(
                "ratio exact-metre / cityloop: {:.0}x per full route ({:.0}x per nearest segment); KNN / cityloop: {:.0}x  (target >= 100x)",
                run.exact_us * 1e3 / best_route,
                run.exact_us * 1e3 / best_nearest,
                run.knn_us * 1e3 / best_route
            );
            println!(
                "agreement exact-metre vs cityloop ({} points): segment same {} + both none {} = {} agree; differ {}: tie/precision (< 1 mm) {}, at the 50 m edge (< 1 mm) {}, real {} (PostGIS farther {}, nearer {}, missed by PostGIS {}, missed by cityloop {}); grid cell same {}, differs {}",
                exact.points,
                exact.same_segment,
                exact.both_none,
                exact.same_segment + exact.both_none,
                exact.segment_mismatches(),
                exact.tie_or_precision,
                exact.edge_50m,
                exact.real_mismatches(),
                exact.farther,
                exact.nearer,
                exact.missed_by_pg,
                exact.missed_by_cityloop,
                exact.same_grid,
                exact.grid_differs
            );
            let knn_matched = knn.same_segment + knn.tie_or_precision + knn.farther + knn.nearer;
            println!(
                "agreement KNN vs cityloop: segment same {} + both none {}; farther road {} ({:.2} % of matched, up to {:.1} m farther), missed a road within 50 m {}, tie/precision {}, edge {}, nearer {}; grid same {}, differs {}",
                knn.same_segment,
                knn.both_none,
                knn.farther,
                pct(knn.farther, knn_matched),
                knn.max_farther_m,
                knn.missed_by_pg,
                knn.tie_or_precision,
                knn.edge_50m,
                knn.nearer + knn.missed_by_cityloop,
                knn.same_grid,
                knn.grid_differs
            );
            if !exact.examples.is_empty() {
                println!("exact-metre differences (first {}):", exact.examples.len());
                for e in &exact.examples {
                    println!("  {e}");
                }
            }
            println!("psql script, output and plans: {}", run.log.display());
        }
    }
    println!("====");
    if mismatches > 0 {
        std::process::exit(1);
    }
    if let Some((_, _, exact)) = &pg {
        if exact.real_mismatches() > 0 || exact.grid_differs > 0 {
            std::process::exit(1);
        }
    }
}
