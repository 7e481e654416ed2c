//! PostGIS side by side, in the same run (see `shared/docs/benchmarks.md`).
//!
//! Drives the local `psql` through `std::process` (no Rust dependency): creates a scratch
//! database `cityloop_bench_<pid>` with the `postgis` extension, `\copy`s in the same road
//! segments, grid cells and points as CSV (EWKT geometries, coordinates printed with Rust's
//! shortest round-trip formatting, so PostGIS parses the very same `f64`s), builds GiST
//! indexes, and runs each method as ONE batch query over all points, timed by psql's
//! `\timing` (server execution plus sending the result rows to psql):
//!
//! - `knn`: `ORDER BY geom <-> pt LIMIT 1` on the geometry index (ranks by degrees), kept
//!   when its geodesic distance is ≤ 50 m; plus `ST_Contains` for the grid cell.
//! - `exact`: candidates with `ST_DWithin(geog, pt::geography, 50)` ordered by geodesic
//!   distance (`ST_Distance` on geography, spheroid) then by id (byte-wise, `COLLATE "C"`,
//!   the same tie rule as cityloop); plus the grid containment.
//!
//! The scratch database and the CSV files are removed at the end, also on failure.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use cityloop_geo::metric::point_line_distance_m;
use cityloop_geo::{Router, Territory};

/// One point's answer from a PostGIS query.
#[derive(Clone, Debug, Default)]
pub struct PgAnswer {
    /// Segment id and its geodesic distance (metres), when within 50 m.
    pub segment: Option<(String, f64)>,
    /// The containing grid cell's code.
    pub grid: Option<String>,
}

/// Timings and answers of one PostGIS run.
pub struct PgRun {
    pub version: String,
    pub load_ms: f64,
    /// Best batch time over the rounds, µs per point.
    pub knn_us: f64,
    pub exact_us: f64,
    /// All round times, ms.
    pub knn_rounds_ms: Vec<f64>,
    pub exact_rounds_ms: Vec<f64>,
    pub knn: Vec<PgAnswer>,
    pub exact: Vec<PgAnswer>,
    /// Whether the planner chose a parallel plan (per method).
    pub knn_parallel: bool,
    pub exact_parallel: bool,
    /// Where the plans and psql's output were kept.
    pub log: PathBuf,
}

/// The scratch database and directory; dropped (and removed) on the way out.
struct Scratch {
    url: String,
    db: String,
    dir: PathBuf,
    created: bool,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.created {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db);
            if let Err(e) = psql(&self.url, &["-c", &sql]) {
                eprintln!("postgis: could not drop {}: {e}", self.db);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs psql on `url` with ON_ERROR_STOP; returns stdout.
fn psql(url: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "psql failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A CSV field, quoted when needed.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Splits one CSV line (RFC 4180 quoting; no embedded newlines in our output).
fn csv_split(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (false, '"') => quoted = true,
            (false, ',') => fields.push(std::mem::take(&mut cur)),
            (_, c) => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

fn ewkt_coords(out: &mut String, cs: &[geo::Coord]) {
    for (k, c) in cs.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        let _ = write!(out, "{} {}", c.x, c.y);
    }
}

fn ewkt_line(l: &geo::LineString) -> String {
    let mut s = String::from("SRID=4326;");
    if l.0.len() == 1 {
        s.push_str("POINT(");
    } else {
        s.push_str("LINESTRING(");
    }
    ewkt_coords(&mut s, &l.0);
    s.push(')');
    s
}

fn ewkt_multipolygon(mp: &geo::MultiPolygon) -> String {
    let mut s = String::from("SRID=4326;MULTIPOLYGON(");
    for (i, p) in mp.0.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push('(');
        for (k, ring) in std::iter::once(p.exterior())
            .chain(p.interiors())
            .enumerate()
        {
            if k > 0 {
                s.push(',');
            }
            s.push('(');
            ewkt_coords(&mut s, &ring.0);
            s.push(')');
        }
        s.push(')');
    }
    s.push(')');
    s
}

/// The scratch database's name.
pub fn scratch_db_name() -> String {
    format!("cityloop_bench_{}", std::process::id())
}

const PT: &str = "ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)";

fn grid_lateral() -> String {
    format!(
        "LEFT JOIN LATERAL (SELECT code FROM cells WHERE ST_Contains(geom, {PT}) \
         ORDER BY code LIMIT 1) c ON true"
    )
}

/// KNN by degrees on the geometry index; kept when within 50 m geodesic.
fn knn_query() -> String {
    format!(
        "SELECT p.i, CASE WHEN s.d <= 50 THEN s.id END, CASE WHEN s.d <= 50 THEN s.d END, c.code \
         FROM pts p \
         LEFT JOIN LATERAL (SELECT id, ST_Distance(geog, {PT}::geography) AS d FROM \
           (SELECT id, geog FROM segs ORDER BY geom <-> {PT} LIMIT 1) k) s ON true \
         {}",
        grid_lateral()
    )
}

/// Exact metres: geography candidates within 50 m, nearest by geodesic distance, lowest id.
fn exact_query() -> String {
    format!(
        "SELECT p.i, s.id, s.d, c.code \
         FROM pts p \
         LEFT JOIN LATERAL (SELECT id, ST_Distance(geog, {PT}::geography) AS d FROM segs \
           WHERE ST_DWithin(geog, {PT}::geography, 50) ORDER BY d, id LIMIT 1) s ON true \
         {}",
        grid_lateral()
    )
}

fn parse_results(path: &Path, n: usize) -> Result<Vec<PgAnswer>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = vec![PgAnswer::default(); n];
    let mut seen = 0usize;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let f = csv_split(line);
        let [i, id, d, code] = f.as_slice() else {
            return Err(format!("bad result line {line:?}"));
        };
        let i: usize = i.parse().map_err(|_| format!("bad index in {line:?}"))?;
        let a = out
            .get_mut(i)
            .ok_or_else(|| format!("index {i} out of range"))?;
        if !id.is_empty() {
            let d: f64 = d.parse().map_err(|_| format!("bad distance in {line:?}"))?;
            a.segment = Some((id.clone(), d));
        }
        if !code.is_empty() {
            a.grid = Some(code.clone());
        }
        seen += 1;
    }
    if seen != n {
        return Err(format!("{} rows for {n} points", seen));
    }
    Ok(out)
}

/// Loads the territory's segments and grid cells and `pts` into a scratch database and runs
/// both methods `rounds` times each.
pub fn run(
    url: &str,
    territory: &Territory,
    pts: &[(f64, f64)],
    rounds: usize,
) -> Result<PgRun, String> {
    let db = scratch_db_name();
    let dir = std::env::temp_dir().join(&db);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut scratch = Scratch {
        url: url.to_owned(),
        db: db.clone(),
        dir: dir.clone(),
        created: false,
    };

    // CSV inputs.
    let mut segs = String::new();
    for s in territory.segments() {
        let _ = writeln!(
            segs,
            "{},{}",
            csv_field(&s.id),
            csv_field(&ewkt_line(&s.geometry))
        );
    }
    let mut cells = String::new();
    for g in territory.grids() {
        let _ = writeln!(
            cells,
            "{},{}",
            csv_field(&g.code),
            csv_field(&ewkt_multipolygon(&g.geometry))
        );
    }
    let mut points = String::new();
    for (i, (x, y)) in pts.iter().enumerate() {
        let _ = writeln!(points, "{i},{x},{y}");
    }
    let file = |name: &str| dir.join(name);
    for (name, text) in [
        ("segs.csv", &segs),
        ("cells.csv", &cells),
        ("pts.csv", &points),
    ] {
        std::fs::write(file(name), text).map_err(|e| format!("{name}: {e}"))?;
    }
    let q = |p: PathBuf| format!("'{}'", p.display().to_string().replace('\'', "''"));

    psql(url, &["-c", &format!("CREATE DATABASE {db}")])?;
    scratch.created = true;

    let (knn, exact) = (knn_query(), exact_query());
    let mut sql = String::new();
    let _ = writeln!(sql, "\\c {db}");
    sql.push_str(
        "CREATE EXTENSION IF NOT EXISTS postgis;\n\
         \\pset format unaligned\n\\pset tuples_only on\n\
         \\echo @@version\nSELECT 'PostgreSQL ' || current_setting('server_version') || ', PostGIS ' || postgis_lib_version() || ', max_parallel_workers_per_gather=' || current_setting('max_parallel_workers_per_gather');\n\
         \\timing on\n\\echo @@load\n\
         BEGIN;\n\
         CREATE TABLE segs (id text COLLATE \"C\" PRIMARY KEY, geom geometry(Geometry, 4326) NOT NULL, \
           geog geography(Geometry, 4326) GENERATED ALWAYS AS (geom::geography) STORED);\n\
         CREATE TABLE cells (code text COLLATE \"C\" PRIMARY KEY, geom geometry(MultiPolygon, 4326) NOT NULL);\n\
         CREATE TABLE pts (i int PRIMARY KEY, lon float8 NOT NULL, lat float8 NOT NULL);\n",
    );
    let _ = writeln!(
        sql,
        "\\copy segs (id, geom) FROM {} WITH (FORMAT csv)",
        q(file("segs.csv"))
    );
    let _ = writeln!(
        sql,
        "\\copy cells (code, geom) FROM {} WITH (FORMAT csv)",
        q(file("cells.csv"))
    );
    let _ = writeln!(
        sql,
        "\\copy pts (i, lon, lat) FROM {} WITH (FORMAT csv)",
        q(file("pts.csv"))
    );
    sql.push_str(
        "CREATE INDEX segs_geom ON segs USING gist (geom);\n\
         CREATE INDEX segs_geog ON segs USING gist (geog);\n\
         CREATE INDEX cells_geom ON cells USING gist (geom);\n\
         COMMIT;\n\
         VACUUM ANALYZE segs;\nVACUUM ANALYZE cells;\nVACUUM ANALYZE pts;\n\
         \\echo @@loaded\n\\timing off\n",
    );
    let _ = writeln!(sql, "\\o {}\nEXPLAIN {knn};", q(file("plan_knn.txt")));
    let _ = writeln!(sql, "\\o {}\nEXPLAIN {exact};", q(file("plan_exact.txt")));
    sql.push_str("\\o\n\\timing on\n");
    for r in 0..rounds {
        for (name, query) in [("knn", &knn), ("exact", &exact)] {
            let _ = writeln!(sql, "\\echo @@{name} {r}");
            let _ = writeln!(
                sql,
                "\\copy ({query}) TO {} WITH (FORMAT csv)",
                q(file(&format!("{name}.csv")))
            );
        }
    }
    std::fs::write(file("bench.sql"), &sql).map_err(|e| format!("bench.sql: {e}"))?;
    let out = psql(url, &["-f", &file("bench.sql").display().to_string()])?;

    // `\timing` lines follow each marker; a statement may print several.
    let mut version = String::new();
    let mut marker = String::new();
    let mut times: HashMap<String, f64> = HashMap::new();
    for line in out.lines() {
        if let Some(m) = line.strip_prefix("@@") {
            marker = m.to_owned();
        } else if let Some(t) = line.strip_prefix("Time: ") {
            let ms: f64 = t
                .split(" ms")
                .next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("bad timing line {line:?}"))?;
            *times.entry(marker.clone()).or_default() += ms;
        } else if marker == "version" && version.is_empty() && !line.trim().is_empty() {
            version = line.trim().to_owned();
        }
    }
    let rounds_of = |name: &str| -> Result<Vec<f64>, String> {
        (0..rounds)
            .map(|r| {
                times
                    .get(&format!("{name} {r}"))
                    .copied()
                    .ok_or_else(|| format!("no timing for {name} round {r}"))
            })
            .collect()
    };
    let knn_rounds_ms = rounds_of("knn")?;
    let exact_rounds_ms = rounds_of("exact")?;
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min) * 1e3 / pts.len() as f64;
    // A parallel plan shows a Gather node.
    let knn_plan = std::fs::read_to_string(file("plan_knn.txt")).unwrap_or_default();
    let exact_plan = std::fs::read_to_string(file("plan_exact.txt")).unwrap_or_default();
    let plans = format!("knn:\n{knn_plan}\nexact:\n{exact_plan}");
    let log = std::env::temp_dir().join(format!("{db}.log"));
    let _ = std::fs::write(
        &log,
        format!("{sql}\n-- psql output:\n{out}\n-- plans:\n{plans}"),
    );

    let run = PgRun {
        version,
        load_ms: times.get("load").copied().unwrap_or(f64::NAN),
        knn_us: best(&knn_rounds_ms),
        exact_us: best(&exact_rounds_ms),
        knn_parallel: knn_plan.contains("Gather"),
        exact_parallel: exact_plan.contains("Gather"),
        knn_rounds_ms,
        exact_rounds_ms,
        knn: parse_results(&file("knn.csv"), pts.len())?,
        exact: parse_results(&file("exact.csv"), pts.len())?,
        log,
    };
    drop(scratch);
    Ok(run)
}

/// How a PostGIS method's answers compare with cityloop's, point by point.
#[derive(Default, Debug)]
pub struct Agreement {
    pub points: usize,
    /// Points with a road within 50 m, by cityloop and by the PostGIS method.
    pub cityloop_with_road: usize,
    pub pg_with_road: usize,
    pub same_segment: usize,
    pub both_none: usize,
    /// Different segments, distances (cityloop's metric) within 1 mm: a tie or precision case.
    pub tie_or_precision: usize,
    /// Different segments, PostGIS's farther by more than 1 mm.
    pub farther: usize,
    /// Different segments, PostGIS's nearer by more than 1 mm (cityloop wrong).
    pub nearer: usize,
    /// One side found a road within 50 m, the other none, the distance within 1 mm of 50 m.
    pub edge_50m: usize,
    /// One side found a road, the other none, well inside 50 m.
    pub missed_by_pg: usize,
    pub missed_by_cityloop: usize,
    /// Largest extra distance of a farther PostGIS pick, metres.
    pub max_farther_m: f64,
    pub same_grid: usize,
    pub grid_differs: usize,
    /// Details of the first differing points.
    pub examples: Vec<String>,
}

impl Agreement {
    /// Points whose segment differs in any way.
    pub fn segment_mismatches(&self) -> usize {
        self.points - self.same_segment - self.both_none
    }

    /// Mismatches that are not ties, precision or the 50 m edge.
    pub fn real_mismatches(&self) -> usize {
        self.farther + self.nearer + self.missed_by_pg + self.missed_by_cityloop
    }
}

/// Compares a PostGIS method's answers with cityloop's routes of the same points.
pub fn compare(
    router: &Router,
    territory: &Territory,
    pts: &[(f64, f64)],
    pg: &[PgAnswer],
    max_examples: usize,
) -> Agreement {
    let by_id: HashMap<&str, &geo::LineString> = territory
        .segments()
        .iter()
        .map(|s| (s.id.as_str(), &s.geometry))
        .collect();
    let tol = router.tolerance_m();
    let mut a = Agreement {
        points: pts.len(),
        ..Agreement::default()
    };
    for (i, (&(x, y), p)) in pts.iter().zip(pg).enumerate() {
        let r = router.route(x, y);
        if r.grid_code == p.grid {
            a.same_grid += 1;
        } else {
            a.grid_differs += 1;
        }
        let ours = r.segment.as_ref().map(|h| (h.id.as_str(), h.distance_m));
        let theirs = p.segment.as_ref().map(|(id, d)| (id.as_str(), *d));
        a.cityloop_with_road += ours.is_some() as usize;
        a.pg_with_road += theirs.is_some() as usize;
        let detail = match (ours, theirs) {
            (None, None) => {
                a.both_none += 1;
                None
            }
            (Some((o, _)), Some((t, _))) if o == t => {
                a.same_segment += 1;
                None
            }
            (Some((o, od)), Some((t, td))) => {
                // Both distances in cityloop's metric (PostGIS's own figure printed too).
                let t_ours = by_id
                    .get(t)
                    .map_or(f64::NAN, |g| point_line_distance_m(x, y, g));
                let diff = t_ours - od;
                let kind = if diff.abs() < 1e-3 {
                    a.tie_or_precision += 1;
                    "tie/precision (< 1 mm)"
                } else if diff > 0.0 {
                    a.farther += 1;
                    a.max_farther_m = a.max_farther_m.max(diff);
                    "PostGIS farther"
                } else {
                    a.nearer += 1;
                    "PostGIS NEARER: cityloop wrong"
                };
                Some(format!(
                    "#{i} ({x}, {y}): cityloop {o} at {od:.6} m; PostGIS {t} at {td:.6} m geodesic, \
                     {t_ours:.6} m in cityloop's metric; Δ {:.3} mm: {kind}",
                    diff * 1e3
                ))
            }
            (Some((o, od)), None) => {
                let kind = if (od - tol).abs() < 1e-3 {
                    a.edge_50m += 1;
                    "at the 50 m edge (< 1 mm)"
                } else {
                    a.missed_by_pg += 1;
                    "missed by PostGIS"
                };
                Some(format!(
                    "#{i} ({x}, {y}): cityloop {o} at {od:.6} m; PostGIS none: {kind}"
                ))
            }
            (None, Some((t, td))) => {
                let kind = if (td - tol).abs() < 1e-3 {
                    a.edge_50m += 1;
                    "at the 50 m edge (< 1 mm)"
                } else {
                    a.missed_by_cityloop += 1;
                    "MISSED BY CITYLOOP"
                };
                Some(format!(
                    "#{i} ({x}, {y}): cityloop none; PostGIS {t} at {td:.6} m: {kind}"
                ))
            }
        };
        if let Some(d) = detail {
            if a.examples.len() < max_examples {
                a.examples.push(d);
            }
        }
    }
    a
}
