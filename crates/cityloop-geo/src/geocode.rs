//! Address search and reverse geocoding from the territory alone (no outside service).
//!
//! A [`Geocoder`] is built once from a validated [`Territory`]: roads are the named road
//! segments grouped by name; a **crossing** is a segment end where another named road passes
//! within [`SNAP_M`] metres (a shared OSM node, or a side road ending on a main road).
//!
//! # Search ([`Geocoder::search`])
//! The query is normalised (full-width ASCII to ASCII, lower case, spaces collapsed).
//! * An intersection is two names joined by 与, 和, 跟, 、, `/`, `&`, `@`, ` and ` or ` at `,
//!   optionally followed by 交叉口, 十字路口, 路口 or 交口 (`大学路与陇海路交叉口`,
//!   `大学路/陇海路`, `Boylston St & Dartmouth`): every pair of matching roads that cross.
//! * Otherwise roads, street offices and communities whose name matches.
//!
//! A name matches a term when the normalised name equals it, starts with it, contains it,
//! or (for a term that is longer, such as `大学路100号`) is contained in it; a term of several
//! words matches when every word is contained in the name. Better matches come first; among
//! roads the one with more segments (the main road of a name: 大学路 before 大学南路), then
//! shorter names; areas after roads of the same match.
//!
//! # Reverse ([`Geocoder::reverse`])
//! The nearest named segment within [`REVERSE_MAX_M`] and, walking along the same road
//! from each of its ends, the first crossing road on either side: "大学路（陇海路—航海路段）".
//!
//! This module does no I/O.

use std::collections::{BTreeSet, HashMap};

use geo::{BoundingRect, Coord, InteriorPoint, LineString};
use rstar::{RTree, RTreeObject, AABB};
use serde::Serialize;

use crate::metric::{distance_m, metres_per_degree, point_line_distance_m};
use crate::territory::Territory;

/// Another road within this distance of a segment's end crosses there.
pub const SNAP_M: f64 = 8.0;
/// Reverse geocoding names a road only within this distance of the point.
pub const REVERSE_MAX_M: f64 = 150.0;
/// Longest search query, in characters.
pub const MAX_QUERY_CHARS: usize = 64;
/// Most answers of one search.
pub const MAX_RESULTS: usize = 20;
/// Steps walked along one road looking for a crossing.
const MAX_WALK: usize = 400;
/// Crossing points of one road pair closer than this are one intersection.
const SAME_CROSSING_M: f64 = 60.0;

/// What a search answer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlaceKind {
    /// A road (all its segments of that name).
    Road,
    /// Where two roads cross.
    Intersection,
    /// A street office.
    Street,
    /// A community.
    Community,
}

/// One search answer.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Place {
    /// What it is.
    pub kind: PlaceKind,
    /// Display text: the name, or `A与B交叉口` (`A & B` for names without Chinese).
    pub label: String,
    /// The road names (one for a road, two for an intersection, none for areas).
    pub roads: Vec<String>,
    /// The street office or community code (areas only).
    pub code: Option<String>,
    /// Where to put the pin (WGS84): on the road, at the crossing, inside the area.
    pub lon: f64,
    /// Latitude of the pin.
    pub lat: f64,
    /// The extent to show, `[west, south, east, north]`.
    pub bbox: [f64; 4],
}

/// The road part of a reverse-geocoding answer.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RoadPlace {
    /// The nearest named segment's id.
    pub segment_id: String,
    /// Its road name.
    pub road: String,
    /// The crossing road at one end of the stretch, if any.
    pub from: Option<String>,
    /// The crossing road at the other end, if any.
    pub to: Option<String>,
    /// Distance from the point to the segment, metres.
    pub distance_m: f64,
}

struct Road {
    name: String,
    norm: String,
    segs: Vec<usize>,
    bbox: [f64; 4],
    pin: (f64, f64),
}

struct Area {
    kind: PlaceKind,
    code: String,
    name: String,
    norm: String,
    bbox: [f64; 4],
    pin: (f64, f64),
}

struct SegItem {
    env: AABB<[f64; 2]>,
    idx: usize,
}

impl RTreeObject for SegItem {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.env
    }
}

/// The search and reverse-geocoding index; see the module documentation.
pub struct Geocoder {
    roads: Vec<Road>,
    areas: Vec<Area>,
    /// Per segment: its road (index into `roads`, `None` when unnamed) and geometry.
    seg_road: Vec<Option<usize>>,
    seg_geom: Vec<LineString>,
    seg_id: Vec<String>,
    tree: RTree<SegItem>,
    /// Per segment, per end (0 = first position): the other named roads crossing there.
    crossing_at: Vec<[Vec<usize>; 2]>,
    /// Crossings by road pair (lower index first).
    crossings: HashMap<(usize, usize), Vec<(f64, f64)>>,
}

impl std::fmt::Debug for Geocoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Geocoder")
            .field("roads", &self.roads.len())
            .field("areas", &self.areas.len())
            .finish_non_exhaustive()
    }
}

/// Normalises text for matching: full-width ASCII to ASCII, ideographic space to space,
/// lower case, runs of white space to one space, trimmed.
pub fn normalise(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFF01 + 0x21).unwrap_or(c),
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c))
}

fn bbox_of(r: Option<geo::Rect>) -> [f64; 4] {
    r.map_or([0.0; 4], |r| [r.min().x, r.min().y, r.max().x, r.max().y])
}

fn union(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ]
}

/// The envelope of all points within `m` metres of `c` (generously).
fn around(c: Coord, m: f64) -> AABB<[f64; 2]> {
    let (kx, ky) = metres_per_degree(c.y);
    let dx = m / kx.max(1.0) * 1.01;
    let dy = m / ky.max(1.0) * 1.01;
    AABB::from_corners([c.x - dx, c.y - dy], [c.x + dx, c.y + dy])
}

/// How well a normalised name matches a normalised term (lower is better).
fn score(name: &str, term: &str) -> Option<u8> {
    if term.is_empty() {
        return None;
    }
    if name == term {
        Some(0)
    } else if name.starts_with(term) {
        Some(1)
    } else if name.contains(term) {
        Some(2)
    } else if term.contains(' ') && term.split(' ').all(|w| name.contains(w)) {
        Some(3)
    } else if term.chars().count() > name.chars().count()
        && name.chars().count() >= 2
        && term.contains(name)
    {
        Some(4)
    } else {
        None
    }
}

/// Separators of an intersection query, tried in this order.
const JOINERS: [&str; 9] = ["与", "和", "跟", "、", "/", "&", "@", " and ", " at "];
/// Suffixes that name an intersection.
const CROSSING_SUFFIXES: [&str; 6] = [
    "交叉路口",
    "十字路口",
    "交叉口",
    "路口",
    "交口",
    " intersection",
];

fn split_intersection(q: &str) -> Option<(String, String)> {
    let mut q = q.to_owned();
    for s in CROSSING_SUFFIXES {
        if let Some(rest) = q.strip_suffix(s) {
            q = rest.trim().to_owned();
            break;
        }
    }
    for j in JOINERS {
        if let Some((a, b)) = q.split_once(j) {
            let (a, b) = (a.trim(), b.trim());
            if !a.is_empty() && !b.is_empty() {
                return Some((a.to_owned(), b.to_owned()));
            }
        }
    }
    None
}

impl Geocoder {
    /// Indexes `t`'s named roads, their crossings, and its street offices and communities.
    pub fn new(t: &Territory) -> Geocoder {
        let segs = t.segments();
        let mut by_name: HashMap<&str, usize> = HashMap::new();
        let mut roads: Vec<Road> = Vec::new();
        let mut seg_road = Vec::with_capacity(segs.len());
        for (i, s) in segs.iter().enumerate() {
            let name = s.road_name.trim();
            if name.is_empty() {
                seg_road.push(None);
                continue;
            }
            let r = *by_name.entry(name).or_insert_with(|| {
                roads.push(Road {
                    name: name.to_owned(),
                    norm: normalise(name),
                    segs: Vec::new(),
                    bbox: [f64::MAX, f64::MAX, f64::MIN, f64::MIN],
                    pin: (0.0, 0.0),
                });
                roads.len() - 1
            });
            roads[r].segs.push(i);
            roads[r].bbox = union(roads[r].bbox, bbox_of(s.geometry.bounding_rect()));
            seg_road.push(Some(r));
        }
        for r in &mut roads {
            // The pin: the middle vertex of the segment whose middle is nearest the centre.
            let cx = (r.bbox[0] + r.bbox[2]) / 2.0;
            let cy = (r.bbox[1] + r.bbox[3]) / 2.0;
            let mut best = (f64::MAX, (cx, cy));
            for &i in &r.segs {
                let c = &segs[i].geometry.0;
                let m = c[c.len() / 2];
                let d = distance_m((m.x, m.y), (cx, cy));
                if d < best.0 {
                    best = (d, (m.x, m.y));
                }
            }
            r.pin = best.1;
        }
        let seg_geom: Vec<LineString> = segs.iter().map(|s| s.geometry.clone()).collect();
        let tree = RTree::bulk_load(
            seg_geom
                .iter()
                .enumerate()
                .filter_map(|(idx, g)| {
                    g.bounding_rect().map(|r| SegItem {
                        env: AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                        idx,
                    })
                })
                .collect(),
        );
        let mut crossing_at: Vec<[Vec<usize>; 2]> = Vec::with_capacity(segs.len());
        let mut crossings: HashMap<(usize, usize), Vec<(f64, f64)>> = HashMap::new();
        for (i, g) in seg_geom.iter().enumerate() {
            let own = seg_road[i];
            let mut ends: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
            if let (Some(own), Some(first), Some(last)) = (own, g.0.first(), g.0.last()) {
                for (k, c) in [*first, *last].into_iter().enumerate() {
                    let mut names = BTreeSet::new();
                    for it in tree.locate_in_envelope_intersecting(&around(c, SNAP_M)) {
                        let Some(r) = seg_road[it.idx] else { continue };
                        if r == own || names.contains(&r) {
                            continue;
                        }
                        if point_line_distance_m(c.x, c.y, &seg_geom[it.idx]) <= SNAP_M {
                            names.insert(r);
                        }
                    }
                    for &r in &names {
                        let key = (own.min(r), own.max(r));
                        let pts = crossings.entry(key).or_default();
                        if !pts
                            .iter()
                            .any(|p| distance_m(*p, (c.x, c.y)) < SAME_CROSSING_M)
                        {
                            pts.push((c.x, c.y));
                        }
                    }
                    ends[k] = names.into_iter().collect();
                }
            }
            crossing_at.push(ends);
        }
        let mut areas = Vec::new();
        for s in t.streets() {
            areas.push(Area {
                kind: PlaceKind::Street,
                code: s.code.clone(),
                name: s.name.clone(),
                norm: normalise(&s.name),
                bbox: bbox_of(s.geometry.bounding_rect()),
                pin: s
                    .geometry
                    .interior_point()
                    .map_or((0.0, 0.0), |p| (p.x(), p.y())),
            });
        }
        for c in t.communities() {
            areas.push(Area {
                kind: PlaceKind::Community,
                code: c.code.clone(),
                name: c.name.clone(),
                norm: normalise(&c.name),
                bbox: bbox_of(c.geometry.bounding_rect()),
                pin: c
                    .geometry
                    .interior_point()
                    .map_or((0.0, 0.0), |p| (p.x(), p.y())),
            });
        }
        Geocoder {
            roads,
            areas,
            seg_road,
            seg_geom,
            seg_id: segs.iter().map(|s| s.id.clone()).collect(),
            tree,
            crossing_at,
            crossings,
        }
    }

    /// Roads matching a term, best first.
    fn roads_matching(&self, term: &str) -> Vec<(u8, usize)> {
        let mut v: Vec<(u8, usize)> = self
            .roads
            .iter()
            .enumerate()
            .filter_map(|(i, r)| score(&r.norm, term).map(|s| (s, i)))
            .collect();
        // Better match first; then the longer road (more segments: the main road of that
        // name, 大学路 before 大学南路); then the shorter name.
        let key = |(s, i): &(u8, usize)| {
            let r = &self.roads[*i];
            (
                *s,
                std::cmp::Reverse(r.segs.len()),
                r.name.chars().count(),
                r.name.clone(),
            )
        };
        v.sort_by_key(key);
        v
    }

    /// Searches for `query` (see the module documentation); at most `limit` answers
    /// (capped at [`MAX_RESULTS`]). The caller checks the length ([`MAX_QUERY_CHARS`]).
    pub fn search(&self, query: &str, limit: usize) -> Vec<Place> {
        let limit = limit.clamp(1, MAX_RESULTS);
        let q = normalise(query);
        if q.is_empty() {
            return Vec::new();
        }
        if let Some((a, b)) = split_intersection(&q) {
            let ra = self.roads_matching(&a);
            let rb = self.roads_matching(&b);
            let mut out: Vec<(u8, Place)> = Vec::new();
            for &(sa, x) in ra.iter().take(50) {
                for &(sb, y) in rb.iter().take(50) {
                    if x == y {
                        continue;
                    }
                    let Some(pts) = self.crossings.get(&(x.min(y), x.max(y))) else {
                        continue;
                    };
                    let (na, nb) = (&self.roads[x].name, &self.roads[y].name);
                    let label = if has_cjk(na) || has_cjk(nb) {
                        format!("{na}与{nb}交叉口")
                    } else {
                        format!("{na} & {nb}")
                    };
                    for p in pts {
                        let d = 0.0005;
                        out.push((
                            sa.max(sb),
                            Place {
                                kind: PlaceKind::Intersection,
                                label: label.clone(),
                                roads: vec![na.clone(), nb.clone()],
                                code: None,
                                lon: p.0,
                                lat: p.1,
                                bbox: [p.0 - d, p.1 - d, p.0 + d, p.1 + d],
                            },
                        ));
                    }
                }
            }
            out.sort_by_key(|(s, _)| *s);
            if !out.is_empty() {
                return out.into_iter().take(limit).map(|(_, p)| p).collect();
            }
        }
        // (score, rank among its kind, name length, tie-break, place)
        let mut out: Vec<(u8, usize, usize, String, Place)> = Vec::new();
        for (rank, (s, i)) in self.roads_matching(&q).into_iter().enumerate() {
            let r = &self.roads[i];
            out.push((
                s,
                rank,
                0,
                r.name.clone(),
                Place {
                    kind: PlaceKind::Road,
                    label: r.name.clone(),
                    roads: vec![r.name.clone()],
                    code: None,
                    lon: r.pin.0,
                    lat: r.pin.1,
                    bbox: r.bbox,
                },
            ));
        }
        for a in &self.areas {
            if let Some(s) = score(&a.norm, &q) {
                out.push((
                    s,
                    usize::MAX,
                    a.name.chars().count(),
                    a.code.clone(),
                    Place {
                        kind: a.kind,
                        label: a.name.clone(),
                        roads: Vec::new(),
                        code: Some(a.code.clone()),
                        lon: a.pin.0,
                        lat: a.pin.1,
                        bbox: a.bbox,
                    },
                ));
            }
        }
        out.sort_by(|a, b| (a.0, a.1, a.2, &a.3).cmp(&(b.0, b.1, b.2, &b.3)));
        out.into_iter().take(limit).map(|(.., p)| p).collect()
    }

    /// The nearest named road within [`REVERSE_MAX_M`] and its crossing roads on either
    /// side; `None` when no named road is that close.
    pub fn reverse(&self, lon: f64, lat: f64) -> Option<RoadPlace> {
        if !lon.is_finite() || !lat.is_finite() {
            return None;
        }
        let c = Coord { x: lon, y: lat };
        let mut best: Option<(f64, usize)> = None;
        for it in self
            .tree
            .locate_in_envelope_intersecting(&around(c, REVERSE_MAX_M))
        {
            if self.seg_road[it.idx].is_none() {
                continue;
            }
            let d = point_line_distance_m(lon, lat, &self.seg_geom[it.idx]);
            let better = match best {
                None => true,
                Some((bd, bi)) => d < bd || (d == bd && self.seg_id[it.idx] < self.seg_id[bi]),
            };
            if d <= REVERSE_MAX_M && better {
                best = Some((d, it.idx));
            }
        }
        let (d, seg) = best?;
        let road = self.seg_road[seg]?;
        let from = self.walk(seg, 0, road);
        let to = self.walk(seg, 1, road);
        let (from, to) = match (from, to) {
            (Some(a), Some(b)) if a == b => (Some(a), None),
            other => other,
        };
        Some(RoadPlace {
            segment_id: self.seg_id[seg].clone(),
            road: self.roads[road].name.clone(),
            from: from.map(|r| self.roads[r].name.clone()),
            to: to.map(|r| self.roads[r].name.clone()),
            distance_m: (d * 10.0).round() / 10.0,
        })
    }

    /// From end `end` of segment `seg`, walks along road `road` until a crossing road.
    fn walk(&self, mut seg: usize, mut end: usize, road: usize) -> Option<usize> {
        let mut seen = BTreeSet::new();
        for _ in 0..MAX_WALK {
            seen.insert(seg);
            if let Some(&r) = self.crossing_at[seg][end].first() {
                return Some(r);
            }
            let g = &self.seg_geom[seg].0;
            let p = if end == 0 { *g.first()? } else { *g.last()? };
            // The next segment of the same road that starts or ends here.
            let mut next = None;
            for it in self.tree.locate_in_envelope_intersecting(&around(p, 1.0)) {
                if seen.contains(&it.idx) || self.seg_road[it.idx] != Some(road) {
                    continue;
                }
                let h = &self.seg_geom[it.idx].0;
                let (Some(a), Some(b)) = (h.first(), h.last()) else {
                    continue;
                };
                if distance_m((a.x, a.y), (p.x, p.y)) <= 1.0 {
                    next = Some((it.idx, 1));
                } else if distance_m((b.x, b.y), (p.x, p.y)) <= 1.0 {
                    next = Some((it.idx, 0));
                }
                if next.is_some() {
                    break;
                }
            }
            let (s, e) = next?;
            seg = s;
            end = e;
        }
        None
    }

    /// Number of named roads indexed.
    pub fn road_count(&self) -> usize {
        self.roads.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::territory::{RoadSegment, TerritoryLayers};

    fn seg(id: &str, name: &str, pts: &[(f64, f64)]) -> RoadSegment {
        RoadSegment {
            id: id.into(),
            road_name: name.into(),
            geometry: LineString::from(pts.to_vec()),
            street_code: None,
            schematic: false,
        }
    }

    /// 大学路 runs north–south, crossed by 陇海路 (north) and 航海路 (south); a lane ends on
    /// 大学路 between them without crossing it.
    fn geocoder() -> Geocoder {
        let t = Territory::new(TerritoryLayers {
            segments: vec![
                seg("d1", "大学路", &[(113.65, 34.75), (113.65, 34.74)]),
                seg("d2", "大学路", &[(113.65, 34.74), (113.65, 34.73)]),
                seg("d3", "大学路", &[(113.65, 34.73), (113.65, 34.72)]),
                seg("l1", "陇海路", &[(113.64, 34.75), (113.65, 34.75)]),
                seg("l2", "陇海路", &[(113.65, 34.75), (113.66, 34.75)]),
                seg("h1", "航海路", &[(113.64, 34.72), (113.66, 34.72)]),
                seg("x1", "", &[(113.64, 34.74), (113.65, 34.74)]),
            ],
            ..Default::default()
        })
        .expect("valid");
        Geocoder::new(&t)
    }

    #[test]
    fn reverse_names_the_road_and_the_crossings_on_either_side() {
        let g = geocoder();
        let r = g.reverse(113.6502, 34.735).expect("a road");
        assert_eq!(r.road, "大学路");
        let mut ends = [r.from.clone().unwrap(), r.to.clone().unwrap()];
        ends.sort();
        assert_eq!(ends, ["航海路".to_owned(), "陇海路".to_owned()]);
        assert!(r.distance_m < 20.0);
        assert!(g.reverse(113.70, 34.70).is_none(), "far from every road");
    }

    #[test]
    fn intersections_are_found_in_every_spelling() {
        let g = geocoder();
        for q in [
            "大学路与陇海路交叉口",
            "大学路/陇海路",
            "陇海路和大学路",
            "大学／陇海",
            "大学路 & 陇海路路口",
        ] {
            let hits = g.search(q, 5);
            assert!(!hits.is_empty(), "{q}");
            assert_eq!(hits[0].kind, PlaceKind::Intersection, "{q}");
            assert!(
                (hits[0].lon - 113.65).abs() < 1e-9 && (hits[0].lat - 34.75).abs() < 1e-9,
                "{q}"
            );
        }
        assert!(g
            .search("大学路与不存在路", 5)
            .iter()
            .all(|p| p.kind != PlaceKind::Intersection));
    }

    #[test]
    fn partial_names_find_roads_best_match_first() {
        let g = geocoder();
        let hits = g.search("大学", 5);
        assert_eq!(hits[0].label, "大学路");
        assert_eq!(g.search("大学路100号", 5)[0].label, "大学路");
        assert!(g.search("海路", 5).len() == 2);
        assert!(g.search("   ", 5).is_empty());
        assert_eq!(normalise("ＡＢ　 c"), "ab c");
    }
}
