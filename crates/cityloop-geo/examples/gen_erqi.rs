//! Generates the schematic (示意) layers of the demo district 二七区 into `data/demo/erqi/`.
//!
//! Inputs are the real files in `$CITYLOOP_SHARED/data/geo/` (default `../shared` next to
//! the workspace): Erqi's outline, Zhengzhou's districts and the street offices' official
//! names and codes. Outputs: copies of the real files, and generated street-office polygons
//! (a weighted Voronoi/power diagram of hand-placed seeds clipped to the real outline),
//! 2–4 communities per street, unit grids (a lattice clipped to the communities; 100 m cells,
//! coarser in the large rural streets) and road segments named after real Erqi roads, placed
//! approximately and split at intersections and street boundaries. Everything generated is
//! flagged `schematic: true`. The run is deterministic (fixed seed, no clock), validates the
//! result with `Territory::new` and fails on any problem.
//!
//! Run: `cargo run -p cityloop-geo --release --example gen_erqi`

use std::collections::BTreeMap;
use std::error::Error;
use std::io::Write;
use std::path::{Path, PathBuf};

use cityloop_geo::layers::{self, parse_district, parse_districts};
use cityloop_geo::metric::{area_m2, LocalFrame};
use cityloop_geo::territory::{
    Community, Layer, RoadSegment, StreetOffice, Territory, TerritoryLayers, UnitGrid,
};
use geo::{
    Area, BooleanOps, BoundingRect, Coord, CoordinatePosition, LineString, MultiPolygon, Polygon,
    Rect,
};

type Res<T> = Result<T, Box<dyn Error>>;

/// Street seeds: (short name, lon, lat, weight in km²). Larger weight = larger cell.
const STREET_SEEDS: &[(&str, f64, f64, f64)] = &[
    // Old town, north-east lobe (small).
    ("解放路", 113.6500, 34.7620, 0.0),
    ("德化街", 113.6600, 34.7560, 0.0),
    ("铭功路", 113.6450, 34.7540, 0.0),
    ("一马路", 113.6520, 34.7480, 0.0),
    ("福华街", 113.6590, 34.7420, 0.0),
    ("建中街", 113.6420, 34.7410, 0.0),
    ("淮河路", 113.6410, 34.7300, 0.0),
    // Middle.
    ("大学路", 113.6560, 34.7290, 0.5),
    ("蜜蜂张", 113.6610, 34.7140, 1.5),
    ("五里堡", 113.6440, 34.7170, 1.0),
    ("嵩山路", 113.6250, 34.7160, 1.5),
    ("长江路", 113.6200, 34.6980, 3.0),
    ("京广路", 113.6480, 34.6970, 3.0),
    // Rural south-west (large).
    ("侯寨", 113.5850, 34.6450, 40.0),
    ("马寨", 113.5180, 34.6950, 25.0),
];

/// Roads: (name, polyline control points [lon, lat]). Positions are approximate.
const ROADS: &[(&str, &[(f64, f64)])] = &[
    // North–south, west to east.
    ("西四环", &[(113.5300, 34.600), (113.5300, 34.735)]),
    ("107辅道", &[(113.5650, 34.600), (113.5650, 34.725)]),
    ("齐礼阎路", &[(113.6080, 34.655), (113.6080, 34.722)]),
    ("嵩山南路", &[(113.6180, 34.600), (113.6180, 34.664)]),
    ("嵩山路", &[(113.6180, 34.660), (113.6180, 34.740)]),
    ("工人南路", &[(113.6270, 34.650), (113.6270, 34.695)]),
    ("工人路", &[(113.6270, 34.691), (113.6270, 34.760)]),
    ("兴华南街", &[(113.6340, 34.640), (113.6340, 34.695)]),
    ("兴华街", &[(113.6340, 34.691), (113.6340, 34.770)]),
    ("京广南路", &[(113.6405, 34.615), (113.6405, 34.684)]),
    ("京广路", &[(113.6405, 34.680), (113.6405, 34.770)]),
    ("大学南路", &[(113.6470, 34.600), (113.6470, 34.690)]),
    ("大学路", &[(113.6470, 34.686), (113.6470, 34.770)]),
    ("民主路", &[(113.6522, 34.746), (113.6522, 34.770)]),
    ("一马路", &[(113.6555, 34.733), (113.6555, 34.770)]),
    ("铭功路", &[(113.6590, 34.746), (113.6590, 34.770)]),
    ("德化街", &[(113.6625, 34.746), (113.6625, 34.770)]),
    ("二七路", &[(113.6650, 34.750), (113.6650, 34.770)]),
    // Diagonal.
    (
        "郑密路",
        &[
            (113.6500, 34.7120),
            (113.6150, 34.6600),
            (113.5700, 34.6000),
        ],
    ),
    // East–west, north to south.
    ("建设路", &[(113.6300, 34.7640), (113.6700, 34.7640)]),
    ("太康路", &[(113.6300, 34.7594), (113.6700, 34.7594)]),
    ("解放路", &[(113.6300, 34.7545), (113.6700, 34.7545)]),
    ("中原路", &[(113.6200, 34.7500), (113.6700, 34.7500)]),
    ("淮河路", &[(113.6200, 34.7430), (113.6700, 34.7430)]),
    ("陇海路", &[(113.6100, 34.7360), (113.6720, 34.7360)]),
    ("连云路", &[(113.6100, 34.7290), (113.6720, 34.7290)]),
    ("长江路", &[(113.5900, 34.7220), (113.6720, 34.7220)]),
    ("政通路", &[(113.5900, 34.7155), (113.6720, 34.7155)]),
    ("航海路", &[(113.4950, 34.7090), (113.6720, 34.7090)]),
    ("南三环", &[(113.4950, 34.6950), (113.6720, 34.6950)]),
    ("南四环", &[(113.4950, 34.6720), (113.6720, 34.6720)]),
    ("绕城高速", &[(113.4950, 34.6450), (113.6720, 34.6450)]),
];

fn main() -> Res<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = std::env::var_os("CITYLOOP_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared"));
    let geo_dir = shared.join("data/geo");
    let out = root.join("data/demo/erqi");
    std::fs::create_dir_all(&out)?;

    // Real inputs, copied byte for byte.
    for f in [
        "erqi_district.wgs84.geojson",
        "zhengzhou_districts.wgs84.geojson",
    ] {
        let bytes = std::fs::read(geo_dir.join(f))
            .map_err(|e| format!("read {}: {e}", geo_dir.join(f).display()))?;
        std::fs::write(out.join(f), bytes)?;
    }
    let csv = std::fs::read_to_string(geo_dir.join("zhengzhou_subdistricts.csv"))?;
    let mut lines = csv.lines();
    let header = lines.next().ok_or("empty csv")?;
    let rows: Vec<&str> = lines
        .filter(|l| l.split(',').nth(6) == Some("410103"))
        .collect();
    let mut sub = String::from(header);
    sub.push('\n');
    for r in &rows {
        sub.push_str(r);
        sub.push('\n');
    }
    std::fs::write(out.join("erqi_subdistricts.csv"), sub)?;
    // (code, full name, short name)
    let offices: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            let f: Vec<&str> = r.split(',').collect();
            (f[0].to_owned(), f[2].to_owned(), f[3].to_owned())
        })
        .collect();
    if offices.len() != 15 {
        return Err(format!("expected 15 street offices, found {}", offices.len()).into());
    }

    let district = parse_district(&std::fs::read_to_string(
        out.join("erqi_district.wgs84.geojson"),
    )?)
    .map_err(|e| format!("{e:?}"))?;
    let neighbours: Vec<_> = parse_districts(
        &std::fs::read_to_string(out.join("zhengzhou_districts.wgs84.geojson"))?,
        Layer::Neighbours,
    )
    .map_err(|e| format!("{e:?}"))?
    .into_iter()
    .filter(|d| d.code != district.code)
    .collect();

    let outline = district.geometry.clone();
    let bb = outline.bounding_rect().ok_or("empty outline")?;
    let frame = LocalFrame::at(bb.center().x, bb.center().y);
    println!("district area {:.1} km²", area_m2(&outline) / 1e6);

    // Street offices.
    let streets = make_streets(&outline, &offices, &frame)?;
    // Communities.
    let communities = make_communities(&streets, &frame)?;
    // Grids.
    let grids = make_grids(&streets, &communities, &bb, &frame)?;
    // Roads.
    let segments = make_roads(&streets)?;

    let layers_in = TerritoryLayers {
        district: Some(district),
        neighbours,
        streets,
        communities,
        grids,
        segments,
    };
    let t = match Territory::new(layers_in) {
        Ok(t) => t,
        Err(errs) => {
            for e in errs.iter().take(50) {
                eprintln!("{e}");
            }
            return Err(format!("{} validation problems", errs.len()).into());
        }
    };

    std::fs::write(
        out.join("erqi_streets.geojson"),
        layers::streets_to_geojson(t.streets()),
    )?;
    std::fs::write(
        out.join("erqi_communities.geojson"),
        layers::communities_to_geojson(t.communities()),
    )?;
    std::fs::write(
        out.join("erqi_roads.geojson"),
        layers::segments_to_geojson(t.segments()),
    )?;
    write_gz(
        &out.join("erqi_grids.geojson.gz"),
        layers::grids_to_geojson(t.grids()).as_bytes(),
    )?;

    for s in t.streets() {
        let n_c = t
            .communities()
            .iter()
            .filter(|c| c.code.starts_with(&s.code))
            .count();
        let n_g = t
            .grids()
            .iter()
            .filter(|g| g.code.starts_with(&s.code))
            .count();
        let n_s = t
            .segments()
            .iter()
            .filter(|g| g.street_code.as_deref() == Some(&s.code))
            .count();
        println!(
            "{} {:<8} {:>6.2} km²  {n_c} communities {n_g:>5} grids {n_s:>3} segments",
            s.code,
            s.name,
            area_m2(&s.geometry) / 1e6
        );
    }
    println!(
        "{} streets, {} communities, {} grids, {} segments",
        t.streets().len(),
        t.communities().len(),
        t.grids().len(),
        t.segments().len()
    );
    Ok(())
}

fn write_gz(path: &Path, bytes: &[u8]) -> Res<()> {
    // No file name and mtime 0 in the header: the output is byte-for-byte reproducible.
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes)?;
    std::fs::write(path, enc.finish()?)?;
    Ok(())
}

// -----------------------------------------------------------------------------------------
// Power diagram cells.

/// Clips a convex polygon (metres) to the half-plane `a·p <= b`.
fn clip_half_plane(poly: &[(f64, f64)], a: (f64, f64), b: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let n = poly.len();
    for i in 0..n {
        let p = poly[i];
        let q = poly[(i + 1) % n];
        let fp = a.0 * p.0 + a.1 * p.1 - b;
        let fq = a.0 * q.0 + a.1 * q.1 - b;
        if fp <= 0.0 {
            out.push(p);
        }
        if (fp < 0.0 && fq > 0.0) || (fp > 0.0 && fq < 0.0) {
            let t = fp / (fp - fq);
            out.push((p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1)));
        }
    }
    out
}

/// Power-diagram cells (in degrees) of `seeds` (metres, weight m²) over `area`'s bounding
/// box plus a margin. The box is kept tight on purpose: boolean operations quantize
/// coordinates relative to their operands' extent.
fn power_cells(
    seeds: &[((f64, f64), f64)],
    frame: &LocalFrame,
    area: &MultiPolygon,
) -> Vec<Polygon> {
    let bb = area.bounding_rect().unwrap_or(Rect::new(
        Coord { x: 0.0, y: 0.0 },
        Coord { x: 0.0, y: 0.0 },
    ));
    let (ax, ay) = frame.project(bb.min().x, bb.min().y);
    let (bx, by) = frame.project(bb.max().x, bb.max().y);
    let m = 200.0;
    seeds
        .iter()
        .enumerate()
        .map(|(i, &(si, wi))| {
            let mut cell = vec![
                (ax - m, ay - m),
                (bx + m, ay - m),
                (bx + m, by + m),
                (ax - m, by + m),
            ];
            for (j, &(sj, wj)) in seeds.iter().enumerate() {
                if i == j {
                    continue;
                }
                // |p-si|² - wi <= |p-sj|² - wj  <=>  2p·(sj-si) <= |sj|²-|si|² - wj + wi
                let a = (2.0 * (sj.0 - si.0), 2.0 * (sj.1 - si.1));
                let b = sj.0 * sj.0 + sj.1 * sj.1 - si.0 * si.0 - si.1 * si.1 - wj + wi;
                cell = clip_half_plane(&cell, a, b);
            }
            let mut ring: Vec<Coord> = cell
                .iter()
                .map(|&(x, y)| Coord {
                    x: frame.lon0 + x / frame.kx,
                    y: frame.lat0 + y / frame.ky,
                })
                .collect();
            if let Some(&f) = ring.first() {
                ring.push(f);
            }
            Polygon::new(LineString(ring), vec![])
        })
        .collect()
}

/// Intersects each cell with `area`; fragments other than a cell's largest polygon are merged
/// into a neighbouring cell they share an edge with.
fn cells_in(area: &MultiPolygon, cells: &[Polygon]) -> Vec<MultiPolygon> {
    let mut parts: Vec<MultiPolygon> = cells.iter().map(|c| area.intersection(c)).collect();
    let mut fragments: Vec<(usize, Polygon)> = Vec::new();
    for (i, p) in parts.iter_mut().enumerate() {
        if p.0.len() > 1 {
            p.0.sort_by(|a, b| b.unsigned_area().total_cmp(&a.unsigned_area()));
            for f in p.0.drain(1..) {
                fragments.push((i, f));
            }
        }
    }
    for (own, f) in fragments {
        let fa = f.unsigned_area();
        let mut best: Option<(usize, MultiPolygon)> = None;
        for (j, p) in parts.iter().enumerate() {
            if j == own || p.0.is_empty() {
                continue;
            }
            let u = p.union(&f);
            if u.0.len() == p.0.len() && (u.unsigned_area() - p.unsigned_area() - fa).abs() < 1e-12
            {
                best = Some((j, u));
                break;
            }
        }
        match best {
            Some((j, u)) => parts[j] = u,
            None => parts[own].0.push(f),
        }
    }
    parts
}

fn make_streets(
    outline: &MultiPolygon,
    offices: &[(String, String, String)],
    frame: &LocalFrame,
) -> Res<Vec<StreetOffice>> {
    let seeds: Vec<((f64, f64), f64)> = STREET_SEEDS
        .iter()
        .map(|&(_, lon, lat, w)| (frame.project(lon, lat), w * 1e6))
        .collect();
    let cells = power_cells(&seeds, frame, outline);
    let parts = cells_in(outline, &cells);
    let mut out = Vec::new();
    for ((short, ..), geom) in STREET_SEEDS.iter().zip(parts) {
        let (code, name, _) = offices
            .iter()
            .find(|o| o.2 == *short)
            .ok_or_else(|| format!("no office named {short}"))?;
        if geom.0.is_empty() {
            return Err(format!("street {name} got no area").into());
        }
        out.push(StreetOffice {
            code: code.clone(),
            name: name.clone(),
            geometry: geom,
            schematic: true,
        });
    }
    out.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(out)
}

// -----------------------------------------------------------------------------------------
// Communities: k-means seeds inside each street, Voronoi cells clipped to it.

const CN_NUM: [&str; 4] = ["一", "二", "三", "四"];

fn make_communities(streets: &[StreetOffice], frame: &LocalFrame) -> Res<Vec<Community>> {
    let mut out = Vec::new();
    for s in streets {
        let km2 = area_m2(&s.geometry) / 1e6;
        let k = if km2 < 3.0 {
            2
        } else if km2 < 10.0 {
            3
        } else {
            4
        };
        // Sample points inside the street on a ~100 m lattice.
        let bb = s.geometry.bounding_rect().ok_or("empty street")?;
        let (x0, y0) = frame.project(bb.min().x, bb.min().y);
        let (x1, y1) = frame.project(bb.max().x, bb.max().y);
        let step = ((x1 - x0) * (y1 - y0) / 4000.0).sqrt().max(50.0);
        let mut pts = Vec::new();
        let mut y = y0 + step / 2.0;
        while y < y1 {
            let mut x = x0 + step / 2.0;
            while x < x1 {
                let c = Coord {
                    x: frame.lon0 + x / frame.kx,
                    y: frame.lat0 + y / frame.ky,
                };
                if s.geometry.coordinate_position(&c) == geo::coordinate_position::CoordPos::Inside
                {
                    pts.push((x, y));
                }
                x += step;
            }
            y += step;
        }
        if pts.len() < k {
            return Err(format!("street {} too small to sample", s.name).into());
        }
        // Deterministic init: evenly spaced points along the west→east order.
        let mut sorted = pts.clone();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let mut centres: Vec<(f64, f64)> = (0..k)
            .map(|i| sorted[(2 * i + 1) * sorted.len() / (2 * k)])
            .collect();
        for _ in 0..30 {
            let mut sum = vec![(0.0, 0.0, 0usize); k];
            for p in &pts {
                let j = nearest(&centres, *p);
                sum[j].0 += p.0;
                sum[j].1 += p.1;
                sum[j].2 += 1;
            }
            for (c, s) in centres.iter_mut().zip(&sum) {
                if s.2 > 0 {
                    *c = (s.0 / s.2 as f64, s.1 / s.2 as f64);
                }
            }
        }
        // Number communities north-west first: sort centres by (north→south, west→east).
        centres.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.total_cmp(&b.0)));
        let seeds: Vec<((f64, f64), f64)> = centres.iter().map(|&c| (c, 0.0)).collect();
        let cells = power_cells(&seeds, frame, &s.geometry);
        let parts = cells_in(&s.geometry, &cells);
        let short = s.name.trim_end_matches("街道").trim_end_matches('镇');
        for (i, geom) in parts.into_iter().enumerate() {
            if geom.0.is_empty() {
                return Err(format!("community {i} of {} is empty", s.name).into());
            }
            out.push(Community {
                code: format!("{}{:03}", s.code, i + 1),
                name: format!("{short}示意{}社区", CN_NUM[i]),
                geometry: geom,
                schematic: true,
            });
        }
    }
    Ok(out)
}

fn nearest(centres: &[(f64, f64)], p: (f64, f64)) -> usize {
    let mut best = 0;
    let mut bd = f64::INFINITY;
    for (i, c) in centres.iter().enumerate() {
        let d = (c.0 - p.0).powi(2) + (c.1 - p.1).powi(2);
        if d < bd {
            bd = d;
            best = i;
        }
    }
    best
}

// -----------------------------------------------------------------------------------------
// Unit grids.

/// Lattice step in 1e-7 degree units for a cell of `metres` at the frame's latitude.
fn step_e7(metres: f64, k: f64) -> i64 {
    // Rounded to 1e-6 degrees so lattice coordinates print short.
    ((metres / k) * 1e6).round() as i64 * 10
}

fn make_grids(
    streets: &[StreetOffice],
    communities: &[Community],
    bb: &Rect,
    frame: &LocalFrame,
) -> Res<Vec<UnitGrid>> {
    let x0 = (bb.min().x * 1e3).floor() as i64 * 10_000; // 1e-7 units
    let y1 = (bb.max().y * 1e3).ceil() as i64 * 10_000; // north edge; rows go south
    let mut out = Vec::new();
    for s in streets {
        let kids: Vec<&Community> = communities
            .iter()
            .filter(|c| c.code.starts_with(&s.code))
            .collect();
        let largest = kids
            .iter()
            .map(|c| area_m2(&c.geometry))
            .fold(0.0, f64::max);
        // 100 m cells unless a community would exceed ~900 cells (3-digit sequence).
        let mut metres = 100.0;
        while largest / (metres * metres) > 900.0 {
            metres += 50.0;
        }
        let dx = step_e7(metres, frame.kx);
        let dy = step_e7(metres, frame.ky);
        let full = metres * metres;
        for c in kids {
            let cb = c.geometry.bounding_rect().ok_or("empty community")?;
            let col0 = ((cb.min().x * 1e7) as i64 - x0).div_euclid(dx);
            let col1 = ((cb.max().x * 1e7) as i64 - x0).div_euclid(dx);
            let row0 = (y1 - (cb.max().y * 1e7) as i64).div_euclid(dy);
            let row1 = (y1 - (cb.min().y * 1e7) as i64).div_euclid(dy);
            // (row, col, part) -> polygon
            let mut pieces: BTreeMap<(i64, i64, usize), Polygon> = BTreeMap::new();
            for row in row0..=row1 {
                for col in col0..=col1 {
                    let xa = (x0 + col * dx) as f64 / 1e7;
                    let xb = (x0 + (col + 1) * dx) as f64 / 1e7;
                    let ya = (y1 - (row + 1) * dy) as f64 / 1e7;
                    let yb = (y1 - row * dy) as f64 / 1e7;
                    let rect =
                        Rect::new(Coord { x: xa, y: ya }, Coord { x: xb, y: yb }).to_polygon();
                    let inter = c.geometry.intersection(&rect);
                    if inter.0.is_empty() {
                        continue;
                    }
                    let ra = rect.unsigned_area();
                    if (inter.unsigned_area() - ra).abs() <= ra * 1e-9 {
                        pieces.insert((row, col, 0), rect);
                        continue;
                    }
                    for (k, p) in inter.0.into_iter().enumerate() {
                        if p.unsigned_area() > 0.0 {
                            pieces.insert((row, col, k), p);
                        }
                    }
                }
            }
            // Merge slivers (< 15 % of a full cell) into an edge-sharing neighbour piece.
            let keys: Vec<(i64, i64, usize)> = pieces.keys().copied().collect();
            for key in keys {
                let Some(p) = pieces.get(&key).cloned() else {
                    continue;
                };
                if area_m2(&MultiPolygon(vec![p.clone()])) >= 0.15 * full {
                    continue;
                }
                let (r, cc, _) = key;
                let mut cands: Vec<(i64, i64, usize)> = pieces
                    .keys()
                    .copied()
                    .filter(|&(r2, c2, k2)| {
                        (r2, c2, k2) != key && (r2 - r).abs() + (c2 - cc).abs() <= 1
                    })
                    .collect();
                cands.sort_by(|a, b| {
                    let aa = pieces[a].unsigned_area();
                    let ba = pieces[b].unsigned_area();
                    ba.total_cmp(&aa).then(a.cmp(b))
                });
                for ck in cands {
                    let u = pieces[&ck].union(&p);
                    if u.0.len() == 1 && u.0[0].interiors().is_empty() {
                        pieces.insert(ck, u.0[0].clone());
                        pieces.remove(&key);
                        break;
                    }
                }
            }
            // Sequence: north→south rows, west→east within a row.
            let mut ordered: Vec<((i64, i64, usize), Polygon)> = pieces.into_iter().collect();
            ordered.sort_by_key(|a| a.0);
            if ordered.len() > 999 {
                return Err(format!("community {} has {} grids", c.code, ordered.len()).into());
            }
            let lattice = Lattice { x0, dx, y1, dy };
            for (seq, (_, p)) in ordered.into_iter().enumerate() {
                out.push(UnitGrid {
                    code: format!("{}{:03}", c.code, seq + 1),
                    geometry: MultiPolygon(vec![lattice.snap(&p)]),
                    schematic: true,
                });
            }
        }
    }
    Ok(out)
}

/// A street's lattice, in 1e-7 degree units.
struct Lattice {
    x0: i64,
    dx: i64,
    y1: i64,
    dy: i64,
}

impl Lattice {
    /// Snaps coordinates within 1e-9° of a lattice line back onto it (boolean operations
    /// round-trip through integers) and drops vertices within 1e-10° of the previous one, so
    /// shared cell edges stay bit-identical and short to print.
    fn snap(&self, p: &Polygon) -> Polygon {
        let fix = |v: f64, origin: i64, step: i64, sign: i64| {
            let k = ((v * 1e7 - origin as f64) / (sign * step) as f64).round() as i64;
            let l = (origin + sign * k * step) as f64 / 1e7;
            if (l - v).abs() < 1e-9 {
                l
            } else {
                v
            }
        };
        let ring = |l: &LineString| {
            let mut out: Vec<Coord> = Vec::with_capacity(l.0.len());
            for c in &l.0 {
                let c = Coord {
                    x: fix(c.x, self.x0, self.dx, 1),
                    y: fix(c.y, self.y1, self.dy, -1),
                };
                match out.last() {
                    Some(p) if (p.x - c.x).abs() < 1e-10 && (p.y - c.y).abs() < 1e-10 => {}
                    _ => out.push(c),
                }
            }
            if let Some(&f) = out.first() {
                if let Some(l) = out.last_mut() {
                    *l = f;
                }
            }
            LineString(out)
        };
        Polygon::new(ring(p.exterior()), p.interiors().iter().map(ring).collect())
    }
}

// -----------------------------------------------------------------------------------------
// Roads.

/// A tiny deterministic generator (SplitMix64).
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

fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

/// Proper crossing of p1–p2 and q1–q2: (t along p, u along q, point).
fn crossing(p1: Coord, p2: Coord, q1: Coord, q2: Coord) -> Option<(f64, f64, Coord)> {
    let r = (p2.x - p1.x, p2.y - p1.y);
    let s = (q2.x - q1.x, q2.y - q1.y);
    let den = r.0 * s.1 - r.1 * s.0;
    if den == 0.0 {
        return None;
    }
    let qp = (q1.x - p1.x, q1.y - p1.y);
    let t = (qp.0 * s.1 - qp.1 * s.0) / den;
    let u = (qp.0 * r.1 - qp.1 * r.0) / den;
    if t > 1e-9 && t < 1.0 - 1e-9 && u > 1e-9 && u < 1.0 - 1e-9 {
        Some((
            t,
            u,
            Coord {
                x: p1.x + t * r.0,
                y: p1.y + t * r.1,
            },
        ))
    } else {
        None
    }
}

fn make_roads(streets: &[StreetOffice]) -> Res<Vec<RoadSegment>> {
    let mut rng = Rng(20_210_720);
    // 1. Straight-ish polylines: a vertex every ~600 m, jittered by up to ~8 m sideways.
    let mut roads: Vec<Vec<Coord>> = Vec::new();
    for (_, ctrl) in ROADS {
        let mut pts = Vec::new();
        for w in ctrl.windows(2) {
            let (a, b) = (w[0], w[1]);
            let len_deg = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
            let n = ((len_deg / 0.0055).ceil() as usize).max(1);
            let (nx, ny) = (-(b.1 - a.1) / len_deg, (b.0 - a.0) / len_deg);
            for i in 0..n {
                let t = i as f64 / n as f64;
                let j = if i == 0 {
                    0.0
                } else {
                    (rng.next_f64() - 0.5) * 0.00016
                };
                pts.push(Coord {
                    x: round7(a.0 + t * (b.0 - a.0) + j * nx),
                    y: round7(a.1 + t * (b.1 - a.1) + j * ny),
                });
            }
        }
        let last = ctrl[ctrl.len() - 1];
        pts.push(Coord {
            x: last.0,
            y: last.1,
        });
        roads.push(pts);
    }

    // 2. Split points per road: (piece index, t, point, is_junction).
    let mut splits: Vec<Vec<(usize, f64, Coord)>> = vec![Vec::new(); roads.len()];
    for i in 0..roads.len() {
        for j in i + 1..roads.len() {
            for (pi, pw) in roads[i].windows(2).enumerate() {
                for (qi, qw) in roads[j].windows(2).enumerate() {
                    if let Some((t, u, c)) = crossing(pw[0], pw[1], qw[0], qw[1]) {
                        // One rounded point, shared bit for bit by both roads.
                        let c = Coord {
                            x: round7(c.x),
                            y: round7(c.y),
                        };
                        splits[i].push((pi, t, c));
                        splits[j].push((qi, u, c));
                    }
                }
            }
        }
    }
    for (ri, road) in roads.iter().enumerate() {
        for s in streets {
            for poly in &s.geometry.0 {
                for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                    for e in ring.0.windows(2) {
                        for (pi, pw) in road.windows(2).enumerate() {
                            if let Some((t, _, c)) = crossing(pw[0], pw[1], e[0], e[1]) {
                                splits[ri].push((pi, t, c));
                            }
                        }
                    }
                }
            }
        }
    }

    // 3. Cut each road at its split points; keep pieces inside a street, owned by it.
    let mut out = Vec::new();
    for (ri, ((name, _), road)) in ROADS.iter().zip(&roads).enumerate() {
        let mut sp = std::mem::take(&mut splits[ri]);
        sp.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        // Boundary crossings of two neighbouring streets nearly coincide: keep one.
        sp.dedup_by(|b, a| (a.2.x - b.2.x).abs() < 1e-8 && (a.2.y - b.2.y).abs() < 1e-8);
        let mut pieces: Vec<Vec<Coord>> = Vec::new();
        let mut cur = vec![road[0]];
        let mut k = 0;
        for (pi, w) in road.windows(2).enumerate() {
            while k < sp.len() && sp[k].0 == pi {
                let c = sp[k].2;
                if cur.last() != Some(&c) {
                    cur.push(c);
                }
                pieces.push(std::mem::replace(&mut cur, vec![c]));
                k += 1;
            }
            if cur.last() != Some(&w[1]) {
                cur.push(w[1]);
            }
        }
        pieces.push(cur);
        let mut seq = 0;
        for p in pieces {
            if p.len() < 2 {
                continue;
            }
            let ls = LineString(p);
            let mid = midpoint(&ls);
            let owner = streets.iter().find(|s| {
                s.geometry.coordinate_position(&mid) == geo::coordinate_position::CoordPos::Inside
            });
            let Some(owner) = owner else { continue };
            seq += 1;
            out.push(RoadSegment {
                id: format!("LD{:02}{:03}", ri + 1, seq),
                road_name: (*name).to_owned(),
                geometry: ls,
                street_code: Some(owner.code.clone()),
                schematic: true,
            });
        }
    }
    Ok(out)
}

/// The point halfway along a line string (in degrees; fine for short pieces).
fn midpoint(ls: &LineString) -> Coord {
    let lens: Vec<f64> =
        ls.0.windows(2)
            .map(|w| ((w[1].x - w[0].x).powi(2) + (w[1].y - w[0].y).powi(2)).sqrt())
            .collect();
    let half = lens.iter().sum::<f64>() / 2.0;
    let mut acc = 0.0;
    for (w, l) in ls.0.windows(2).zip(&lens) {
        if acc + l >= half && *l > 0.0 {
            let t = (half - acc) / l;
            return Coord {
                x: w[0].x + t * (w[1].x - w[0].x),
                y: w[0].y + t * (w[1].y - w[0].y),
            };
        }
        acc += l;
    }
    ls.0[0]
}
