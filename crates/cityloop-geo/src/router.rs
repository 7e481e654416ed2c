//! The routing engine: which grid, community, street office and road segment a point is in.
//!
//! A [`Router`] is built once from a validated [`Territory`] and is immutable afterwards
//! (`Send + Sync`, share it behind an `Arc`). [`Router::route`] answers, for a WGS84 point:
//! the unit grid, community and street office by point-in-polygon, the district or the
//! neighbouring district, and the nearest road segment within a tolerance (default 50 m).
//!
//! # Point in polygon
//!
//! Polygon envelopes sit in an R-tree (`rstar`); candidates are tested exactly with
//! `geo`'s `CoordinatePosition` (axis-aligned rectangles, the usual unit grid, are decided
//! from their envelope, which gives the same answer). **Boundary rule**: a polygon that has
//! the point in its interior wins over one that has it on its boundary; among equals the
//! lowest code wins. So a point on the line between two grids goes to the grid with the
//! lower code, always. The grid decides its community and street office (from its code);
//! communities and streets are searched directly only where no grid (or community) contains
//! the point. `outside_district` is true when the point is in none of the territory's areas
//! (district outline, streets, communities, grids); then `neighbour_district` names the
//! neighbour that contains it, if any.
//!
//! # Nearest segment, in metres
//!
//! Distances are geodesic metres as defined by [`crate::metric`] (the tangent plane at the
//! query point, sub-millimetre at 50 m), never degrees. Segment pieces (each pair of
//! consecutive vertices, long pieces as several ≤ 50 m stretches) sit in an R-tree in a
//! territory-wide metre-scaled projection; the search box is widened by the exact ratio
//! between that projection's scale and the query point's, so every piece within the
//! tolerance is a candidate, and candidates are then measured exactly. The result is
//! identical to [`Router::nearest_segment_brute_force`] (tests and the benchmark check it).
//! **Tie rule**: at equal distance (bit-for-bit, e.g. two segments sharing the nearest vertex)
//! the lowest segment id (byte-wise) wins. The segment is searched for every point, also just
//! outside the district (a border road still has an owner).
//!
//! # Bucket cache
//!
//! Walking an R-tree costs several dependent memory loads per level, which dominated the
//! time per point. So at build time each index also gets a table of equal buckets over its
//! extent, and each bucket stores the R-tree's answer for the whole bucket (for segments:
//! the bucket widened by the tolerance, at the router's own tolerance). A query in the table
//! reads one short contiguous list; a query outside it, or with a larger tolerance than the
//! router's, queries the R-tree directly. Either path yields every piece within the
//! tolerance (and maybe more), so answers do not depend on the path.
//!
//! Non-finite coordinates give an empty route (`outside_district = true`, nothing found).
//! This module does no I/O and knows nothing about cases or categories.

use std::collections::HashMap;
use std::ops::ControlFlow;

use geo::coordinate_position::CoordPos;
use geo::{BoundingRect, Coord, CoordinatePosition, MultiPolygon};
use rstar::{Envelope, RStarInsertionStrategy, RTree, RTreeObject, RTreeParams, AABB};
use serde::{Deserialize, Serialize};

use crate::metric::LocalFrame;
use crate::territory::{AreaRef, Territory};

/// The default search radius for the nearest road segment, in metres.
pub const DEFAULT_TOLERANCE_M: f64 = 50.0;

/// Where a point belongs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// True when the point is in none of the territory's areas.
    pub outside_district: bool,
    /// The district, when the point is inside it.
    pub district: Option<AreaRef>,
    /// The neighbouring district containing the point, when it is outside.
    pub neighbour_district: Option<AreaRef>,
    /// The street office.
    pub street: Option<AreaRef>,
    /// The community.
    pub community: Option<AreaRef>,
    /// The unit grid's code.
    pub grid_code: Option<String>,
    /// The nearest road segment within the tolerance.
    pub segment: Option<SegmentHit>,
    /// True when any feature in this answer is schematic (示意) rather than authoritative.
    pub schematic: bool,
}

/// The nearest road segment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SegmentHit {
    /// Segment id.
    pub id: String,
    /// Road name (may be empty).
    pub road_name: String,
    /// The owning street office, when known.
    pub street_code: Option<String>,
    /// Distance from the point, in metres.
    pub distance_m: f64,
}

/// The routing engine; see the module documentation.
#[derive(Debug)]
pub struct Router {
    tolerance_m: f64,
    frame: LocalFrame,
    district: Option<Area>,
    neighbours: AreaIndex,
    streets: AreaIndex,
    communities: AreaIndex,
    grids: AreaIndex,
    /// Sorted by id, so a lower index is a lower id.
    segments: Vec<SegmentInfo>,
    seg_geoms: Vec<geo::LineString>,
    pieces: Vec<Piece>,
    piece_tree: RTree<PieceLeaf, NodeParams>,
    /// Candidate pieces per bucket for the router's own tolerance, each with its envelope.
    piece_buckets: Buckets<PieceItem>,
    /// Latitude range of the segments.
    lat_range: (f64, f64),
}

/// Above this tolerance the bucket table is not built and searches use the R-tree.
const MAX_BUCKET_TOLERANCE_M: f64 = 1_000.0;

/// R-tree node sizes: wider than rstar's default (6), which measured faster for these
/// read-only, bulk-loaded trees.
struct NodeParams;

impl RTreeParams for NodeParams {
    const MIN_SIZE: usize = 4;
    const MAX_SIZE: usize = 12;
    const REINSERTION_COUNT: usize = 3;
    type DefaultInsertionStrategy = RStarInsertionStrategy;
}

/// Longest stretch of a piece indexed under one envelope, in metres. Long straight pieces
/// (highways) are indexed as several short envelopes so that they do not bloat the tree.
const INDEX_STRETCH_M: f64 = 50.0;

#[derive(Debug)]
struct Area {
    code: String,
    name: String,
    geometry: MultiPolygon,
    schematic: bool,
}

impl Area {
    fn area_ref(&self) -> AreaRef {
        AreaRef {
            code: self.code.clone(),
            name: self.name.clone(),
        }
    }
}

#[derive(Debug)]
struct AreaIndex {
    /// Sorted by code, so a lower index is a lower code.
    areas: Vec<Area>,
    tree: RTree<AreaLeaf, NodeParams>,
    /// Per bucket, the leaves whose envelope meets it (taken from `tree` at build time).
    buckets: Buckets<AreaLeaf>,
    /// The leaf of each area, by index (for the brute-force path).
    leaves: Vec<AreaLeaf>,
}

/// An area's envelope in the R-tree; `rect` marks an axis-aligned rectangle (most unit
/// grids), whose position is decided from the envelope alone. The leaf also carries the
/// area's parents (community, street office) and its code when short, so that routing a
/// point reads one cache line per area instead of chasing pointers.
#[derive(Debug, Clone, Copy)]
struct AreaLeaf {
    env: AABB<[f64; 2]>,
    idx: u32,
    /// Community and street office indexes, [`NONE`] when unknown.
    parents: [u32; 2],
    rect: bool,
    schematic: bool,
    code_len: u8,
    code: [u8; 16],
}

/// No parent.
const NONE: u32 = u32::MAX;

impl AreaLeaf {
    fn parent(&self, k: usize) -> Option<u32> {
        Some(self.parents[k]).filter(|&p| p != NONE)
    }
}

impl RTreeObject for AreaLeaf {
    type Envelope = AABB<[f64; 2]>;
    #[inline]
    fn envelope(&self) -> Self::Envelope {
        self.env
    }
}

impl AreaIndex {
    fn new(mut areas: Vec<Area>, parents: impl Fn(&str) -> [u32; 2]) -> AreaIndex {
        areas.sort_by(|a, b| a.code.cmp(&b.code));
        let leaves: Vec<AreaLeaf> = areas
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let env = match a.geometry.bounding_rect() {
                    Some(r) => AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    None => AABB::from_point([f64::NAN, f64::NAN]),
                };
                let mut code = [0u8; 16];
                let code_len = if a.code.len() <= code.len() {
                    code[..a.code.len()].copy_from_slice(a.code.as_bytes());
                    a.code.len() as u8
                } else {
                    u8::MAX
                };
                AreaLeaf {
                    env,
                    idx: i as u32,
                    parents: parents(&a.code),
                    rect: is_axis_rectangle(&a.geometry),
                    schematic: a.schematic,
                    code_len,
                    code,
                }
            })
            .collect();
        let entries = leaves.iter().filter(|l| !a_nan(&l.env)).copied().collect();
        let tree: RTree<AreaLeaf, NodeParams> = RTree::bulk_load_with_params(entries);
        let buckets = area_buckets(&tree);
        AreaIndex {
            areas,
            tree,
            buckets,
            leaves,
        }
    }

    /// The code of the area behind `leaf`, from the leaf when it fits there.
    fn code(&self, leaf: &AreaLeaf) -> String {
        match leaf
            .code
            .get(..leaf.code_len as usize)
            .and_then(|b| std::str::from_utf8(b).ok())
        {
            Some(c) => c.to_owned(),
            None => self.areas[leaf.idx as usize].code.clone(),
        }
    }

    fn index_of(&self) -> HashMap<&str, u32> {
        self.areas
            .iter()
            .enumerate()
            .map(|(i, a)| (a.code.as_str(), i as u32))
            .collect()
    }

    /// The containing area by the boundary rule (interior first, then lowest code).
    fn locate(&self, c: Coord) -> Option<AreaLeaf> {
        self.locate_in(c, self.buckets.get(c.x, c.y))
    }

    /// [`AreaIndex::locate`] given the bucket of `c` (`None`: search the R-tree).
    fn locate_in(&self, c: Coord, bucket: Option<&[AreaLeaf]>) -> Option<AreaLeaf> {
        // (rank, leaf): the leaf is kept by value, so no second lookup is needed.
        let mut best: Option<(u8, AreaLeaf)> = None;
        let mut visit = |leaf: &AreaLeaf| {
            let pos = if leaf.rect {
                rect_position(&leaf.env, c)
            } else if leaf.env.contains_point(&[c.x, c.y]) {
                self.areas[leaf.idx as usize]
                    .geometry
                    .coordinate_position(&c)
            } else {
                CoordPos::Outside
            };
            if let Some(rank) = rank(pos) {
                if best.is_none_or(|(r, b)| (rank, leaf.idx) < (r, b.idx)) {
                    best = Some((rank, *leaf));
                }
            }
        };
        match bucket {
            Some(leaves) => leaves.iter().for_each(&mut visit),
            None => {
                let at = AABB::from_point([c.x, c.y]);
                let _ = self.tree.locate_in_envelope_intersecting_int(&at, |leaf| {
                    visit(leaf);
                    ControlFlow::<()>::Continue(())
                });
            }
        }
        best.map(|(_, l)| l)
    }

    /// The same answer by scanning every area with `geo` alone.
    fn locate_brute_force(&self, c: Coord) -> Option<AreaLeaf> {
        let mut best: Option<(u8, u32)> = None;
        for (i, a) in self.areas.iter().enumerate() {
            consider(a.geometry.coordinate_position(&c), i as u32, &mut best);
        }
        best.map(|(_, i)| self.leaves[i as usize])
    }
}

/// A table of equal buckets over a rectangle; each bucket lists the index entries that a
/// query point inside it may need, collected from the R-tree when the router is built. A
/// query then reads one contiguous list instead of walking the tree (the walk costs several
/// dependent memory loads per level). Points outside the table use the R-tree directly.
#[derive(Debug, Default)]
struct Buckets<T> {
    x0: f64,
    y0: f64,
    inv_w: f64,
    inv_h: f64,
    nx: usize,
    ny: usize,
    offsets: Vec<u32>,
    items: Vec<T>,
}

/// At most this many buckets per table (the side grows to stay under it).
const MAX_BUCKETS: usize = 1 << 21;

impl<T: Copy> Buckets<T> {
    /// Buckets of about `sx` × `sy` over `area` (from its lower corner); `collect(b)` gives
    /// the entries for bucket rect `b`.
    fn build(
        area: &AABB<[f64; 2]>,
        (sx, sy): (f64, f64),
        mut collect: impl FnMut(&AABB<[f64; 2]>, &mut Vec<T>),
    ) -> Buckets<T> {
        let (lo, hi) = (area.lower(), area.upper());
        let (w, h) = (hi[0] - lo[0], hi[1] - lo[1]);
        if !(w >= 0.0 && h >= 0.0 && sx > 0.0 && sy > 0.0 && w.is_finite() && h.is_finite()) {
            return Buckets::empty();
        }
        let (mut sx, mut sy) = (sx, sy);
        while ((w / sx).ceil().max(1.0)) * ((h / sy).ceil().max(1.0)) > MAX_BUCKETS as f64 {
            sx *= 2.0;
            sy *= 2.0;
        }
        let nx = ((w / sx).ceil() as usize).max(1);
        let ny = ((h / sy).ceil() as usize).max(1);
        let mut offsets = Vec::with_capacity(nx * ny + 1);
        let mut items = Vec::new();
        offsets.push(0);
        for j in 0..ny {
            for i in 0..nx {
                let b = AABB::from_corners(
                    [lo[0] + i as f64 * sx, lo[1] + j as f64 * sy],
                    [lo[0] + (i + 1) as f64 * sx, lo[1] + (j + 1) as f64 * sy],
                );
                collect(&b, &mut items);
                offsets.push(items.len() as u32);
            }
        }
        Buckets {
            x0: lo[0],
            y0: lo[1],
            inv_w: 1.0 / sx,
            inv_h: 1.0 / sy,
            nx,
            ny,
            offsets,
            items,
        }
    }

    fn empty() -> Buckets<T> {
        Buckets {
            x0: 0.0,
            y0: 0.0,
            inv_w: 0.0,
            inv_h: 0.0,
            nx: 0,
            ny: 0,
            offsets: Vec::new(),
            items: Vec::new(),
        }
    }

    /// The entries of the bucket holding `(x, y)`, or `None` outside the table.
    #[inline]
    fn get(&self, x: f64, y: f64) -> Option<&[T]> {
        let fx = (x - self.x0) * self.inv_w;
        let fy = (y - self.y0) * self.inv_h;
        // Also false for NaN.
        if !(fx >= 0.0 && fy >= 0.0) {
            return None;
        }
        let (i, j) = (fx as usize, fy as usize);
        if i >= self.nx || j >= self.ny {
            return None;
        }
        let k = j * self.nx + i;
        Some(&self.items[self.offsets[k] as usize..self.offsets[k + 1] as usize])
    }
}

/// Buckets for an area index: the median area's envelope width and height, the table
/// shifted by half a bucket from the areas' lower corner. For a regular unit grid, bucket
/// edges then fall mid-cell and each bucket meets 4 cells (with edges on the cell edges it
/// would meet 9: a point on an edge needs the cells on both sides).
fn area_buckets(tree: &RTree<AreaLeaf, NodeParams>) -> Buckets<AreaLeaf> {
    let median = |k: usize| {
        let mut v: Vec<f64> = tree
            .iter()
            .map(|l| l.env.upper()[k] - l.env.lower()[k])
            .collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).map(|m| m.max(1e-6))
    };
    let (Some(sx), Some(sy)) = (median(0), median(1)) else {
        return Buckets::empty();
    };
    let all = tree.root().envelope();
    let area = AABB::from_corners(
        [all.lower()[0] - sx / 2.0, all.lower()[1] - sy / 2.0],
        all.upper(),
    );
    Buckets::build(&area, (sx, sy), |b, out| {
        // The bucket widened a little: a point on its edge may be assigned to either side.
        let (px, py) = (sx * 1e-6, sy * 1e-6);
        let wide = AABB::from_corners(
            [b.lower()[0] - px, b.lower()[1] - py],
            [b.upper()[0] + px, b.upper()[1] + py],
        );
        let mut found: Vec<AreaLeaf> = tree
            .locate_in_envelope_intersecting(&wide)
            .copied()
            .collect();
        found.sort_by_key(|l| l.idx);
        out.extend(found);
    })
}

/// True for a single polygon without holes whose ring is an axis-aligned rectangle.
fn is_axis_rectangle(mp: &MultiPolygon) -> bool {
    let [p] = mp.0.as_slice() else { return false };
    let c = &p.exterior().0;
    if !p.interiors().is_empty() || c.len() != 5 || c[0] != c[4] {
        return false;
    }
    let mut xs: Vec<u64> = c.iter().map(|p| p.x.to_bits()).collect();
    let mut ys: Vec<u64> = c.iter().map(|p| p.y.to_bits()).collect();
    xs.sort_unstable();
    xs.dedup();
    ys.sort_unstable();
    ys.dedup();
    xs.len() == 2
        && ys.len() == 2
        && c.windows(2)
            .all(|w| (w[0].x == w[1].x) != (w[0].y == w[1].y))
}

#[inline]
fn rect_position(env: &AABB<[f64; 2]>, c: Coord) -> CoordPos {
    let (l, u) = (env.lower(), env.upper());
    if c.x > l[0] && c.x < u[0] && c.y > l[1] && c.y < u[1] {
        CoordPos::Inside
    } else if c.x >= l[0] && c.x <= u[0] && c.y >= l[1] && c.y <= u[1] {
        CoordPos::OnBoundary
    } else {
        CoordPos::Outside
    }
}

#[inline]
fn a_nan(env: &AABB<[f64; 2]>) -> bool {
    env.lower()[0].is_nan()
}

/// Interior before boundary; `None` outside.
#[inline]
fn rank(pos: CoordPos) -> Option<u8> {
    match pos {
        CoordPos::Inside => Some(0),
        CoordPos::OnBoundary => Some(1),
        CoordPos::Outside => None,
    }
}

#[inline]
fn consider(pos: CoordPos, i: u32, best: &mut Option<(u8, u32)>) {
    if let Some(rank) = rank(pos) {
        if best.is_none_or(|b| (rank, i) < b) {
            *best = Some((rank, i));
        }
    }
}

/// A segment's id, road name and street code, in one cache line when they fit in
/// [`SHORT_TEXT`] bytes (most do), so that building the answer costs one memory access.
#[derive(Debug)]
#[repr(align(64))]
struct SegmentInfo {
    /// Id, road name and street code one after the other, when `long` is `None`.
    short: [u8; SHORT_TEXT],
    id_len: u8,
    name_len: u8,
    street_len: u8,
    has_street: bool,
    schematic: bool,
    long: Option<Box<LongText>>,
}

/// Inline text bytes of a [`SegmentInfo`] (what fills its 64 bytes).
const SHORT_TEXT: usize = 48;

/// The text of a segment whose id, name and street code do not fit inline.
#[derive(Debug)]
struct LongText {
    text: Box<str>,
    id_end: usize,
    name_end: usize,
}

impl SegmentInfo {
    fn new(s: &crate::territory::RoadSegment) -> SegmentInfo {
        let street = s.street_code.as_deref().unwrap_or("");
        let text = format!("{}{}{}", s.id, s.road_name, street);
        let mut short = [0u8; SHORT_TEXT];
        let long = if text.len() <= SHORT_TEXT {
            short[..text.len()].copy_from_slice(text.as_bytes());
            None
        } else {
            Some(Box::new(LongText {
                text: text.into_boxed_str(),
                id_end: s.id.len(),
                name_end: s.id.len() + s.road_name.len(),
            }))
        };
        // Lengths are only read when the text is inline (each then fits a u8).
        let len = |n: usize| u8::try_from(n).unwrap_or(u8::MAX);
        SegmentInfo {
            short,
            id_len: len(s.id.len()),
            name_len: len(s.road_name.len()),
            street_len: len(street.len()),
            has_street: s.street_code.is_some(),
            schematic: s.schematic,
            long,
        }
    }

    /// The id, road name and street code.
    fn texts(&self) -> (&str, &str, &str) {
        match &self.long {
            Some(l) => {
                let (id, rest) = l.text.split_at(l.id_end);
                let (name, street) = rest.split_at(l.name_end - l.id_end);
                (id, name, street)
            }
            None => {
                let (a, b) = (self.id_len as usize, self.name_len as usize);
                let c = self.street_len as usize;
                // Always valid: the bytes and the split points come from `&str`s.
                let s = |r: std::ops::Range<usize>| {
                    self.short
                        .get(r)
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .unwrap_or_default()
                };
                (s(0..a), s(a..a + b), s(a + b..a + b + c))
            }
        }
    }

    fn hit(&self, distance_m: f64) -> SegmentHit {
        let (id, name, street) = self.texts();
        SegmentHit {
            id: id.to_owned(),
            road_name: name.to_owned(),
            street_code: self.has_street.then(|| street.to_owned()),
            distance_m,
        }
    }
}

/// One straight piece of a segment (two consecutive vertices).
#[derive(Debug, Clone, Copy)]
struct Piece {
    a: Coord,
    b: Coord,
    seg: u32,
}

/// A bucket entry: a piece and its envelope in the territory frame (metres), rounded outwards
/// to `f32` so that the lower bound it gives is never above the true distance.
#[derive(Debug, Clone, Copy)]
struct PieceItem {
    lo: [f32; 2],
    hi: [f32; 2],
    piece: u32,
}

impl PieceItem {
    /// Squared distance in the territory frame from `(x, y)` to the envelope.
    #[inline]
    fn dist2(&self, x: f64, y: f64) -> f64 {
        let dx = (f64::from(self.lo[0]) - x)
            .max(x - f64::from(self.hi[0]))
            .max(0.0);
        let dy = (f64::from(self.lo[1]) - y)
            .max(y - f64::from(self.hi[1]))
            .max(0.0);
        dx * dx + dy * dy
    }
}

/// An `f32` at or below `v`, less 1 mm (against rounding of the projection).
fn f32_below(v: f64) -> f32 {
    let w = v - 1e-3 - v.abs() * 1e-6;
    let f = w as f32;
    if f64::from(f) > w {
        f - f.abs().max(f32::MIN_POSITIVE) * f32::EPSILON
    } else {
        f
    }
}

/// An `f32` at or above `v`, plus 1 mm.
fn f32_above(v: f64) -> f32 {
    -f32_below(-v)
}

/// An R-tree leaf: the envelope, in the territory-wide projection, of a stretch of at most
/// [`INDEX_STRETCH_M`] of a piece. Candidates are measured against the whole piece.
#[derive(Debug, Clone, Copy)]
struct PieceLeaf {
    env: AABB<[f64; 2]>,
    piece: u32,
}

impl RTreeObject for PieceLeaf {
    type Envelope = AABB<[f64; 2]>;
    #[inline]
    fn envelope(&self) -> Self::Envelope {
        self.env
    }
}

impl Router {
    /// Builds the indexes. Cost is O(n log n) in the number of features and segment pieces.
    pub fn new(t: &Territory) -> Router {
        let area = |code: &str, name: &str, g: &MultiPolygon, schematic: bool| Area {
            code: code.to_owned(),
            name: name.to_owned(),
            geometry: g.clone(),
            schematic,
        };
        let district = t
            .district()
            .map(|d| area(&d.code, &d.name, &d.geometry, d.schematic));
        let no_parents = |_: &str| [NONE, NONE];
        let neighbours = AreaIndex::new(
            t.neighbours()
                .iter()
                .map(|d| area(&d.code, &d.name, &d.geometry, d.schematic))
                .collect(),
            no_parents,
        );
        let streets = AreaIndex::new(
            t.streets()
                .iter()
                .map(|s| area(&s.code, &s.name, &s.geometry, s.schematic))
                .collect(),
            no_parents,
        );
        let street_idx = streets.index_of();
        let street_of = |code: &str| {
            code.get(..9)
                .and_then(|p| street_idx.get(p).copied())
                .unwrap_or(NONE)
        };
        let communities = AreaIndex::new(
            t.communities()
                .iter()
                .map(|c| area(&c.code, &c.name, &c.geometry, c.schematic))
                .collect(),
            |code| [NONE, street_of(code)],
        );
        let community_idx = communities.index_of();
        let grids = AreaIndex::new(
            t.grids()
                .iter()
                .map(|g| area(&g.code, "", &g.geometry, g.schematic))
                .collect(),
            |code| {
                let community = code
                    .get(..12)
                    .and_then(|p| community_idx.get(p).copied())
                    .unwrap_or(NONE);
                [community, street_of(code)]
            },
        );

        let mut sorted: Vec<&crate::territory::RoadSegment> = t.segments().iter().collect();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        let segments: Vec<SegmentInfo> = sorted.iter().map(|s| SegmentInfo::new(s)).collect();
        let seg_geoms: Vec<geo::LineString> = sorted.iter().map(|s| s.geometry.clone()).collect();

        // The territory-wide frame: centre of everything's bounding box.
        let mut bbox: Option<geo::Rect> = None;
        let mut grow = |r: Option<geo::Rect>| {
            if let Some(r) = r {
                bbox = Some(match bbox {
                    None => r,
                    Some(b) => geo::Rect::new(
                        Coord {
                            x: b.min().x.min(r.min().x),
                            y: b.min().y.min(r.min().y),
                        },
                        Coord {
                            x: b.max().x.max(r.max().x),
                            y: b.max().y.max(r.max().y),
                        },
                    ),
                });
            }
        };
        for g in &seg_geoms {
            grow(g.bounding_rect());
        }
        for idx in [&streets, &communities, &grids] {
            for a in &idx.areas {
                grow(a.geometry.bounding_rect());
            }
        }
        if let Some(d) = &district {
            grow(d.geometry.bounding_rect());
        }
        let frame = match bbox {
            Some(b) => LocalFrame::at(b.center().x, b.center().y),
            None => LocalFrame::at(0.0, 0.0),
        };

        // Pieces, stored in spatial order (256 m tiles, row-major) for memory locality.
        let mut pieces = Vec::new();
        for (i, g) in seg_geoms.iter().enumerate() {
            let c = &g.0;
            if c.len() == 1 {
                pieces.push(Piece {
                    a: c[0],
                    b: c[0],
                    seg: i as u32,
                });
            }
            for w in c.windows(2) {
                pieces.push(Piece {
                    a: w[0],
                    b: w[1],
                    seg: i as u32,
                });
            }
        }
        let tile = |p: &Piece| {
            let (x, y) = frame.project((p.a.x + p.b.x) / 2.0, (p.a.y + p.b.y) / 2.0);
            (
                (y / 256.0).floor() as i64,
                (x / 256.0).floor() as i64,
                p.seg,
            )
        };
        pieces.sort_by_cached_key(tile);
        let mut leaves = Vec::new();
        let (mut lat_min, mut lat_max) = (f64::INFINITY, f64::NEG_INFINITY);
        for (piece, p) in pieces.iter().enumerate() {
            lat_min = lat_min.min(p.a.y.min(p.b.y));
            lat_max = lat_max.max(p.a.y.max(p.b.y));
            let (ax, ay) = frame.project(p.a.x, p.a.y);
            let (bx, by) = frame.project(p.b.x, p.b.y);
            let n = ((bx - ax).hypot(by - ay) / INDEX_STRETCH_M)
                .ceil()
                .clamp(1.0, 1e6) as usize;
            let at = |k: usize| {
                let t = k as f64 / n as f64;
                (ax + t * (bx - ax), ay + t * (by - ay))
            };
            // Envelopes widened by 1 mm against rounding of the interpolated points.
            let pad = 1e-3;
            for k in 0..n {
                let (p, q) = (at(k), at(k + 1));
                leaves.push(PieceLeaf {
                    env: AABB::from_corners(
                        [p.0.min(q.0) - pad, p.1.min(q.1) - pad],
                        [p.0.max(q.0) + pad, p.1.max(q.1) + pad],
                    ),
                    piece: piece as u32,
                });
            }
        }

        let mut router = Router {
            tolerance_m: DEFAULT_TOLERANCE_M,
            frame,
            district,
            neighbours,
            streets,
            communities,
            grids,
            segments,
            seg_geoms,
            pieces,
            piece_tree: RTree::bulk_load_with_params(leaves),
            piece_buckets: Buckets::empty(),
            lat_range: (lat_min, lat_max),
        };
        router.piece_buckets = router.build_piece_buckets();
        router
    }

    /// Bucket table for the nearest-segment search at the router's tolerance: each bucket
    /// lists the pieces (from an R-tree query) that any point inside it may need.
    fn build_piece_buckets(&self) -> Buckets<PieceItem> {
        let tol = self.tolerance_m;
        let (lat_min, lat_max) = self.lat_range;
        if self.pieces.is_empty() || tol > MAX_BUCKET_TOLERANCE_M || !lat_min.is_finite() {
            return Buckets::empty();
        }
        // The smallest scale ratio over the latitudes a bucket query can have (the pieces'
        // range plus the search margin; the ratio is monotonic, so the ends suffice).
        let margin = 2.0 * MAX_BUCKET_TOLERANCE_M / self.frame.ky;
        let s_min = [lat_min - margin, lat_max + margin]
            .iter()
            .map(|&lat| {
                let q = LocalFrame::at(self.frame.lon0, lat);
                (q.kx / self.frame.kx).min(q.ky / self.frame.ky)
            })
            .fold(f64::INFINITY, f64::min);
        if s_min.is_nan() || s_min <= 0.0 {
            return Buckets::empty();
        }
        let r = tol / s_min * (1.0 + 1e-9) + 1e-3;
        // Each piece's envelope in the territory frame, rounded outwards to f32.
        let items: Vec<PieceItem> = self
            .pieces
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (ax, ay) = self.frame.project(p.a.x, p.a.y);
                let (bx, by) = self.frame.project(p.b.x, p.b.y);
                PieceItem {
                    lo: [f32_below(ax.min(bx)), f32_below(ay.min(by))],
                    hi: [f32_above(ax.max(bx)), f32_above(ay.max(by))],
                    piece: i as u32,
                }
            })
            .collect();
        let all = self.piece_tree.root().envelope();
        let area = AABB::from_corners(
            [all.lower()[0] - r, all.lower()[1] - r],
            [all.upper()[0] + r, all.upper()[1] + r],
        );
        let side = r.max(20.0);
        Buckets::build(&area, (side, side), |b, out| {
            let q = AABB::from_corners(
                [b.lower()[0] - r, b.lower()[1] - r],
                [b.upper()[0] + r, b.upper()[1] + r],
            );
            let mut ids: Vec<u32> = Vec::new();
            let _ = self
                .piece_tree
                .locate_in_envelope_intersecting_int(&q, |l| {
                    ids.push(l.piece);
                    ControlFlow::<()>::Continue(())
                });
            ids.sort_unstable();
            ids.dedup();
            // Nearest to the bucket first, so that the search's bound tightens early.
            let (cx, cy) = (
                (b.lower()[0] + b.upper()[0]) / 2.0,
                (b.lower()[1] + b.upper()[1]) / 2.0,
            );
            let mut found: Vec<PieceItem> = ids.iter().map(|&i| items[i as usize]).collect();
            found.sort_by(|x, y| {
                x.dist2(cx, cy)
                    .total_cmp(&y.dist2(cx, cy))
                    .then(x.piece.cmp(&y.piece))
            });
            out.extend(found);
        })
    }

    /// Sets the nearest-segment tolerance in metres (negative or non-finite values mean 0).
    pub fn with_tolerance_m(mut self, tolerance_m: f64) -> Router {
        self.tolerance_m = if tolerance_m.is_finite() && tolerance_m > 0.0 {
            tolerance_m
        } else {
            0.0
        };
        self.piece_buckets = self.build_piece_buckets();
        self
    }

    /// The nearest-segment tolerance in metres.
    pub fn tolerance_m(&self) -> f64 {
        self.tolerance_m
    }

    /// Number of road segments indexed.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Routes a WGS84 point (see the module documentation for the rules).
    pub fn route(&self, lon: f64, lat: f64) -> Route {
        self.route_with(lon, lat, false)
    }

    /// The same answer as [`Router::route`] by scanning every polygon and segment: the
    /// reference for tests and the benchmark's check. O(n) per point.
    pub fn route_brute_force(&self, lon: f64, lat: f64) -> Route {
        self.route_with(lon, lat, true)
    }

    /// The nearest segment within the router's tolerance.
    pub fn nearest_segment(&self, lon: f64, lat: f64) -> Option<SegmentHit> {
        self.nearest_segment_within(lon, lat, self.tolerance_m)
    }

    /// The nearest segment within `tolerance_m` metres (index search).
    pub fn nearest_segment_within(
        &self,
        lon: f64,
        lat: f64,
        tolerance_m: f64,
    ) -> Option<SegmentHit> {
        self.nearest_index(lon, lat, tolerance_m)
            .map(|(i, d)| self.hit(i, d))
    }

    /// The nearest segment within `tolerance_m` by scanning every segment: the reference
    /// that [`Router::nearest_segment_within`] must equal.
    pub fn nearest_segment_brute_force(
        &self,
        lon: f64,
        lat: f64,
        tolerance_m: f64,
    ) -> Option<SegmentHit> {
        self.nearest_index_brute_force(lon, lat, tolerance_m)
            .map(|(i, d)| self.hit(i, d))
    }

    /// The bucket of candidate pieces for a search within `tolerance_m` of `(lon, lat)`, or
    /// `None` when the R-tree must be searched.
    #[inline]
    fn piece_bucket(&self, lon: f64, lat: f64, tolerance_m: f64) -> Option<&[PieceItem]> {
        if tolerance_m <= self.tolerance_m {
            let (px, py) = self.frame.project(lon, lat);
            self.piece_buckets.get(px, py)
        } else {
            None
        }
    }

    fn nearest_index(&self, lon: f64, lat: f64, tolerance_m: f64) -> Option<(u32, f64)> {
        let bucket = self.piece_bucket(lon, lat, tolerance_m);
        self.nearest_index_in(lon, lat, tolerance_m, bucket)
    }

    /// [`Router::nearest_index`] given [`Router::piece_bucket`]'s answer.
    fn nearest_index_in(
        &self,
        lon: f64,
        lat: f64,
        tolerance_m: f64,
        bucket: Option<&[PieceItem]>,
    ) -> Option<(u32, f64)> {
        if !lon.is_finite() || !lat.is_finite() || tolerance_m.is_nan() || tolerance_m < 0.0 {
            return None;
        }
        let q = LocalFrame::at(lon, lat);
        // distance_q >= s * distance_frame for every vector (both metrics are diagonal).
        let s = (q.kx / self.frame.kx).min(q.ky / self.frame.ky);
        if s.is_nan() || s <= 0.0 {
            return self.nearest_index_brute_force(lon, lat, tolerance_m);
        }
        let (px, py) = self.frame.project(lon, lat);
        let mut best: Option<(f64, u32)> = None;
        let visit = |p: &Piece, best: &mut Option<(f64, u32)>| {
            let d = q.distance_to_piece_m(p.a, p.b);
            if d <= tolerance_m && best.is_none_or(|(bd, bi)| d < bd || (d == bd && p.seg < bi)) {
                *best = Some((d, p.seg));
            }
        };
        match bucket {
            Some(items) => {
                // Pieces whose envelope is farther (in the territory frame) than `lim` cannot be
                // within the current bound: distance_q >= s * distance_frame >= s * distance
                // to the envelope. The 1 mm margin dwarfs rounding, so a skipped piece is
                // strictly farther than the bound and never a tie; the answer is the same as
                // visiting every piece.
                let lim = |bound: f64| {
                    let l = (bound + 1e-3) / s;
                    l * l
                };
                let mut lim2 = lim(tolerance_m);
                for it in items {
                    if it.dist2(px, py) > lim2 {
                        continue;
                    }
                    visit(&self.pieces[it.piece as usize], &mut best);
                    if let Some((bd, _)) = best {
                        lim2 = lim(bd);
                    }
                }
            }
            None => {
                let r = tolerance_m / s * (1.0 + 1e-9) + 1e-6;
                let env = AABB::from_corners([px - r, py - r], [px + r, py + r]);
                let _ = self
                    .piece_tree
                    .locate_in_envelope_intersecting_int(&env, |leaf| {
                        visit(&self.pieces[leaf.piece as usize], &mut best);
                        ControlFlow::<()>::Continue(())
                    });
            }
        }
        best.map(|(d, i)| (i, d))
    }

    fn nearest_index_brute_force(
        &self,
        lon: f64,
        lat: f64,
        tolerance_m: f64,
    ) -> Option<(u32, f64)> {
        if !lon.is_finite() || !lat.is_finite() || tolerance_m.is_nan() || tolerance_m < 0.0 {
            return None;
        }
        let q = LocalFrame::at(lon, lat);
        let mut best: Option<(f64, u32)> = None;
        for (i, g) in self.seg_geoms.iter().enumerate() {
            let d = q.distance_to_line_m(g);
            let i = i as u32;
            if d <= tolerance_m && best.is_none_or(|(bd, bi)| d < bd || (d == bd && i < bi)) {
                best = Some((d, i));
            }
        }
        best.map(|(d, i)| (i, d))
    }

    fn hit(&self, i: u32, d: f64) -> SegmentHit {
        self.segments[i as usize].hit(d)
    }

    /// Indexes (sorted, unique) of the segments with a piece that may lie within `radius_m`
    /// of the straight piece `a`–`b` (WGS84): a superset, for exact measuring by the caller
    /// (`crate::patrol`). Searches the piece R-tree with the piece's envelope, widened by the
    /// radius at the scale of the piece's lower-scaled end.
    pub(crate) fn segments_near_piece(
        &self,
        a: Coord,
        b: Coord,
        radius_m: f64,
        out: &mut Vec<u32>,
    ) {
        out.clear();
        if ![a.x, a.y, b.x, b.y, radius_m].iter().all(|v| v.is_finite()) || radius_m < 0.0 {
            return;
        }
        let scale = |c: Coord| {
            let q = LocalFrame::at(c.x, c.y);
            (q.kx / self.frame.kx).min(q.ky / self.frame.ky)
        };
        let s = scale(a).min(scale(b));
        if s.is_nan() || s <= 0.0 {
            out.extend(0..self.segments.len() as u32);
            return;
        }
        let (ax, ay) = self.frame.project(a.x, a.y);
        let (bx, by) = self.frame.project(b.x, b.y);
        let r = radius_m / s * (1.0 + 1e-9) + 1e-3;
        let env = AABB::from_corners(
            [ax.min(bx) - r, ay.min(by) - r],
            [ax.max(bx) + r, ay.max(by) + r],
        );
        let _ = self
            .piece_tree
            .locate_in_envelope_intersecting_int(&env, |leaf| {
                out.push(self.pieces[leaf.piece as usize].seg);
                ControlFlow::<()>::Continue(())
            });
        out.sort_unstable();
        out.dedup();
    }

    /// The geometry of the segment at `i` (id order).
    pub(crate) fn segment_geometry(&self, i: u32) -> &geo::LineString {
        &self.seg_geoms[i as usize]
    }

    /// The id of the segment at `i` (id order).
    pub(crate) fn segment_id(&self, i: u32) -> &str {
        self.segments[i as usize].texts().0
    }

    fn route_with(&self, lon: f64, lat: f64, brute: bool) -> Route {
        if !lon.is_finite() || !lat.is_finite() {
            return Route {
                outside_district: true,
                district: None,
                neighbour_district: None,
                street: None,
                community: None,
                grid_code: None,
                segment: None,
                schematic: false,
            };
        }
        let c = Coord { x: lon, y: lat };
        // Both bucket lists first, and a first read of each, so that their cache misses
        // overlap instead of following one another (routing a random point is bound by
        // memory latency, not arithmetic).
        let (grid_bucket, piece_bucket) = if brute {
            (None, None)
        } else {
            let g = self.grids.buckets.get(c.x, c.y);
            let p = self.piece_bucket(lon, lat, self.tolerance_m);
            std::hint::black_box((
                g.and_then(|l| l.first()).map(|l| l.rect),
                p.and_then(|l| l.first()).map(|i| i.piece),
            ));
            (g, p)
        };
        let locate = |idx: &AreaIndex| {
            if brute {
                idx.locate_brute_force(c)
            } else {
                idx.locate(c)
            }
        };
        // The segment first, then a read of its record, which arrives while the areas are
        // searched.
        let segment = if brute {
            self.nearest_index_brute_force(lon, lat, self.tolerance_m)
        } else {
            self.nearest_index_in(lon, lat, self.tolerance_m, piece_bucket)
        };
        if let Some((i, _)) = segment {
            std::hint::black_box(self.segments[i as usize].id_len);
        }
        let grid = if brute {
            self.grids.locate_brute_force(c)
        } else {
            self.grids.locate_in(c, grid_bucket)
        };
        let community = grid
            .and_then(|g| g.parent(0))
            .map(|i| self.communities.leaves[i as usize])
            .or_else(|| locate(&self.communities));
        let street = grid
            .and_then(|g| g.parent(1))
            .or_else(|| community.and_then(|k| k.parent(1)))
            .map(|i| self.streets.leaves[i as usize])
            .or_else(|| locate(&self.streets));
        let inside = grid.is_some()
            || community.is_some()
            || street.is_some()
            || self
                .district
                .as_ref()
                .is_some_and(|d| d.geometry.coordinate_position(&c) != CoordPos::Outside);
        let neighbour = if inside {
            None
        } else {
            locate(&self.neighbours)
        };

        let district = self.district.as_ref().filter(|_| inside);
        let schematic = [grid, community, street, neighbour]
            .iter()
            .flatten()
            .any(|l| l.schematic)
            || district.is_some_and(|d| d.schematic)
            || segment.is_some_and(|(i, _)| self.segments[i as usize].schematic);
        let area_ref = |idx: &AreaIndex, l: AreaLeaf| idx.areas[l.idx as usize].area_ref();
        Route {
            outside_district: !inside,
            district: district.map(Area::area_ref),
            neighbour_district: neighbour.map(|l| area_ref(&self.neighbours, l)),
            street: street.map(|l| area_ref(&self.streets, l)),
            community: community.map(|l| area_ref(&self.communities, l)),
            grid_code: grid.map(|l| self.grids.code(&l)),
            segment: segment.map(|(i, d)| self.hit(i, d)),
            schematic,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::territory::{RoadSegment, TerritoryLayers};
    use geo::LineString;

    fn seg(id: &str, pts: &[(f64, f64)]) -> RoadSegment {
        RoadSegment {
            id: id.into(),
            road_name: format!("road {id}"),
            geometry: LineString(pts.iter().map(|&(x, y)| Coord { x, y }).collect()),
            street_code: None,
            schematic: false,
        }
    }

    #[test]
    fn router_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Router>();
    }

    #[test]
    fn tie_at_shared_vertex_goes_to_lowest_id() {
        // Two segments meeting at V; the point lies on the bisector beyond V, so V is the
        // nearest point of both, at bit-identical distances.
        let v = (113.6500, 34.7500);
        let t = Territory::new(TerritoryLayers {
            segments: vec![
                seg("b", &[(113.6490, 34.7490), v]),
                seg("a", &[v, (113.6510, 34.7490)]),
                seg("c", &[(113.6600, 34.7600), (113.6610, 34.7600)]),
            ],
            ..Default::default()
        })
        .unwrap();
        let r = Router::new(&t);
        let (lon, lat) = (v.0, v.1 + 0.0002);
        let hit = r.nearest_segment(lon, lat).unwrap();
        assert_eq!(hit.id, "a");
        assert_eq!(r.nearest_segment_brute_force(lon, lat, 50.0).unwrap(), hit);
        let q = LocalFrame::at(lon, lat);
        assert_eq!(
            q.distance_to_line_m(&t.segments()[0].geometry).to_bits(),
            q.distance_to_line_m(&t.segments()[1].geometry).to_bits()
        );
    }

    #[test]
    fn tolerance_is_configurable_and_inclusive_of_nearer_only() {
        let t = Territory::new(TerritoryLayers {
            segments: vec![seg("x", &[(113.60, 34.70), (113.61, 34.70)])],
            ..Default::default()
        })
        .unwrap();
        // ~33 m north of the road.
        let lat = 34.70 + 33.0 / crate::metric::metres_per_degree(34.70).1;
        let r = Router::new(&t);
        assert!(r.nearest_segment(113.605, lat).is_some());
        let r = r.with_tolerance_m(30.0);
        assert!(r.nearest_segment(113.605, lat).is_none());
        assert!(r.route(f64::NAN, 34.7).outside_district);
    }
}
