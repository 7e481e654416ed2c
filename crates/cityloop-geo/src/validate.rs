//! Validation of territory layers: geometry, codes, hierarchy and topology.
//!
//! [`crate::territory::Territory::new`] calls [`validate`], which collects every problem
//! rather than stopping at the first, so a district's GIS team gets one complete list.
//! Checks:
//!
//! * geometry: non-empty, finite, in WGS84 range, rings closed with at least 4 points,
//!   rings not self-intersecting (checked for rings up to
//!   [`ValidationOptions::max_self_intersection_vertices`] vertices: "where cheap"), non-zero
//!   area; segments with at least 2 distinct points;
//! * codes: digits of the right length, no duplicates within a layer, the parent code
//!   present in the parent layer whenever that layer is loaded (a territory may omit upper
//!   layers, e.g. a grid-only benchmark territory);
//! * topology: no two features of a layer overlap by more than
//!   [`ValidationOptions::area_epsilon_m2`]; children cover their parent (streets the district,
//!   communities their street, grids their community, falling back to the nearest loaded
//!   ancestor) leaving no gap region larger than that epsilon, and do not stick out of it;
//! * roads: a segment lies inside the district and inside its street office (up to
//!   [`ValidationOptions::segment_outside_tolerance_m`] metres of length outside); a segment
//!   without a street code is assigned the street office that contains it, and is an error
//!   ("ownerless") when none does.
//!
//! Areas are measured in square metres with [`crate::metric::area_m2`]. This module does not
//! parse files.

use std::collections::{BTreeMap, HashMap, HashSet};

use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{
    BooleanOps, BoundingRect, Coord, InteriorPoint, LineString, MultiLineString, MultiPolygon,
    Polygon, Rect,
};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use crate::metric::{area_m2, length_m};
use crate::territory::{Layer, TerritoryLayers, ValidationError};

/// Thresholds used by validation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ValidationOptions {
    /// Largest overlap between two features, or gap or overhang region, that is tolerated
    /// (square metres). Default 1 m²: numerical noise from clipping, never a real hole.
    pub area_epsilon_m2: f64,
    /// Largest length of a segment outside its street office or the district (metres).
    /// Default 1 m.
    pub segment_outside_tolerance_m: f64,
    /// Rings with more vertices than this are not checked for self-intersection.
    /// Default 100,000.
    pub max_self_intersection_vertices: usize,
}

impl Default for ValidationOptions {
    fn default() -> Self {
        ValidationOptions {
            area_epsilon_m2: 1.0,
            segment_outside_tolerance_m: 1.0,
            max_self_intersection_vertices: 100_000,
        }
    }
}

/// Validates `layers`, filling in `street_code` of segments that a street office owns.
pub fn validate(
    layers: &mut TerritoryLayers,
    opt: &ValidationOptions,
) -> Result<(), Vec<ValidationError>> {
    let mut errs = Vec::new();

    // District.
    let mut district_ok = false;
    let district_code = layers.district.as_ref().map(|d| d.code.clone());
    if let Some(d) = &layers.district {
        let code_ok = check_code(Layer::District, &d.code, &[6], &mut errs);
        let geom_ok = check_area_geometry(Layer::District, &d.code, &d.geometry, opt, &mut errs);
        district_ok = code_ok && geom_ok;
    }

    // Neighbours.
    let mut seen = HashSet::new();
    for n in &layers.neighbours {
        check_code(Layer::Neighbours, &n.code, &[6], &mut errs);
        if !seen.insert(n.code.as_str()) {
            errs.push(dup(Layer::Neighbours, &n.code));
        }
        if Some(&n.code) == district_code.as_ref() {
            errs.push(ValidationError::new(
                Layer::Neighbours,
                &n.code,
                "a neighbour has the district's own code",
            ));
        }
        check_area_geometry(Layer::Neighbours, &n.code, &n.geometry, opt, &mut errs);
    }

    // Street offices.
    let mut street_ok: HashMap<&str, bool> = HashMap::new();
    for s in &layers.streets {
        let mut ok = check_code(Layer::Streets, &s.code, &[9], &mut errs);
        if street_ok.contains_key(s.code.as_str()) {
            errs.push(dup(Layer::Streets, &s.code));
            ok = false;
        }
        if let Some(dc) = &district_code {
            if !s.code.starts_with(dc.as_str()) {
                errs.push(ValidationError::new(
                    Layer::Streets,
                    &s.code,
                    format!("missing parent: the code does not start with the district code {dc}"),
                ));
                ok = false;
            }
        }
        ok &= check_area_geometry(Layer::Streets, &s.code, &s.geometry, opt, &mut errs);
        street_ok.insert(&s.code, ok);
    }

    // Communities.
    let mut community_ok: HashMap<&str, bool> = HashMap::new();
    for c in &layers.communities {
        let mut ok = check_code(Layer::Communities, &c.code, &[12], &mut errs);
        if community_ok.contains_key(c.code.as_str()) {
            errs.push(dup(Layer::Communities, &c.code));
            ok = false;
        }
        ok &= check_parent(
            Layer::Communities,
            &c.code,
            &c.code,
            9,
            &layers
                .streets
                .iter()
                .map(|s| s.code.as_str())
                .collect::<Vec<_>>(),
            district_code.as_deref(),
            &mut errs,
        );
        ok &= check_area_geometry(Layer::Communities, &c.code, &c.geometry, opt, &mut errs);
        community_ok.insert(&c.code, ok);
    }

    // Grids.
    let mut grid_ok: HashMap<&str, bool> = HashMap::new();
    let community_codes: Vec<&str> = layers.communities.iter().map(|c| c.code.as_str()).collect();
    let street_codes: Vec<&str> = layers.streets.iter().map(|s| s.code.as_str()).collect();
    for g in &layers.grids {
        let mut ok = check_code(Layer::Grids, &g.code, &[14, 15], &mut errs);
        if grid_ok.contains_key(g.code.as_str()) {
            errs.push(dup(Layer::Grids, &g.code));
            ok = false;
        }
        if ok {
            ok &= if !community_codes.is_empty() {
                check_parent(
                    Layer::Grids,
                    &g.code,
                    &g.code,
                    12,
                    &community_codes,
                    None,
                    &mut errs,
                )
            } else {
                check_parent(
                    Layer::Grids,
                    &g.code,
                    &g.code,
                    9,
                    &street_codes,
                    district_code.as_deref(),
                    &mut errs,
                )
            };
        }
        ok &= check_area_geometry(Layer::Grids, &g.code, &g.geometry, opt, &mut errs);
        grid_ok.insert(&g.code, ok);
    }

    // Segments: ids, geometry, given street codes.
    let mut seg_ok = Vec::with_capacity(layers.segments.len());
    let mut seen = HashSet::new();
    for s in &layers.segments {
        let mut ok = true;
        if s.id.trim().is_empty() {
            errs.push(ValidationError::new(
                Layer::Roads,
                "-",
                "a segment has an empty id",
            ));
            ok = false;
        } else if !seen.insert(s.id.as_str()) {
            errs.push(dup(Layer::Roads, &s.id));
            ok = false;
        }
        ok &= check_line_geometry(&s.id, &s.geometry, &mut errs);
        if let Some(sc) = &s.street_code {
            if !street_codes.is_empty() && !street_codes.contains(&sc.as_str()) {
                errs.push(ValidationError::new(
                    Layer::Roads,
                    &s.id,
                    format!("missing parent: street office {sc} is not in the streets layer"),
                ));
                ok = false;
            } else if let Some(dc) = &district_code {
                if !sc.starts_with(dc.as_str()) {
                    errs.push(ValidationError::new(
                        Layer::Roads,
                        &s.id,
                        format!("street code {sc} is not in district {dc}"),
                    ));
                    ok = false;
                }
            }
        }
        seg_ok.push(ok);
    }

    // Topology of the area layers (valid features only).
    let eps = opt.area_epsilon_m2;
    let district_geom = layers
        .district
        .as_ref()
        .filter(|_| district_ok)
        .map(|d| (d.code.as_str(), &d.geometry));

    let streets: Vec<(&str, &MultiPolygon)> = layers
        .streets
        .iter()
        .filter(|s| street_ok.get(s.code.as_str()) == Some(&true))
        .map(|s| (s.code.as_str(), &s.geometry))
        .collect();
    let overlapping = check_overlaps(Layer::Streets, &streets, eps, &mut errs);
    if let Some(d) = district_geom {
        if layers
            .streets
            .iter()
            .all(|s| street_ok.get(s.code.as_str()) == Some(&true))
            && overlapping.is_empty()
            && !streets.is_empty()
        {
            check_partition(Layer::Streets, &streets, Layer::District, d, eps, &mut errs);
        }
    }

    let communities: Vec<(&str, &MultiPolygon)> = layers
        .communities
        .iter()
        .filter(|c| community_ok.get(c.code.as_str()) == Some(&true))
        .map(|c| (c.code.as_str(), &c.geometry))
        .collect();
    let all_communities_ok = layers.communities.len() == communities.len();
    let overlapping = check_overlaps(Layer::Communities, &communities, eps, &mut errs);
    if !communities.is_empty() && all_communities_ok {
        partition_by_parent(
            Layer::Communities,
            &communities,
            9,
            Layer::Streets,
            &streets,
            district_geom,
            &overlapping,
            eps,
            &mut errs,
        );
    }

    let grids: Vec<(&str, &MultiPolygon)> = layers
        .grids
        .iter()
        .filter(|g| grid_ok.get(g.code.as_str()) == Some(&true))
        .map(|g| (g.code.as_str(), &g.geometry))
        .collect();
    let all_grids_ok = layers.grids.len() == grids.len();
    let overlapping = check_overlaps(Layer::Grids, &grids, eps, &mut errs);
    if !grids.is_empty() && all_grids_ok {
        if !layers.communities.is_empty() {
            if all_communities_ok {
                partition_by_parent(
                    Layer::Grids,
                    &grids,
                    12,
                    Layer::Communities,
                    &communities,
                    None,
                    &overlapping,
                    eps,
                    &mut errs,
                );
            }
        } else {
            partition_by_parent(
                Layer::Grids,
                &grids,
                9,
                Layer::Streets,
                &streets,
                district_geom,
                &overlapping,
                eps,
                &mut errs,
            );
        }
    }

    // Roads inside the district and owned by one street office.
    let tol = opt.segment_outside_tolerance_m;
    let street_tree = envelope_tree(&streets);
    let mut assigned: Vec<(usize, String)> = Vec::new();
    for (i, s) in layers.segments.iter().enumerate() {
        if !seg_ok[i] {
            continue;
        }
        let mls = MultiLineString(vec![s.geometry.clone()]);
        if let Some((dcode, dgeom)) = district_geom {
            let out = outside_length_m(dgeom, &mls);
            if out > tol {
                errs.push(ValidationError::new(
                    Layer::Roads,
                    &s.id,
                    format!("segment lies {out:.1} m outside the district {dcode}"),
                ));
            }
        }
        if layers.streets.is_empty() {
            continue;
        }
        match &s.street_code {
            Some(sc) => {
                if let Some((_, g)) = streets.iter().find(|(c, _)| *c == sc.as_str()) {
                    let out = outside_length_m(g, &mls);
                    if out > tol {
                        errs.push(ValidationError::new(
                            Layer::Roads,
                            &s.id,
                            format!("segment extends {out:.1} m outside its street office {sc}"),
                        ));
                    }
                }
            }
            None => {
                let Some(env) = line_envelope(&s.geometry) else {
                    continue;
                };
                let mut best: Option<(f64, &str)> = None;
                let mut touched: Vec<&str> = Vec::new();
                for cand in street_tree.locate_in_envelope_intersecting(&env) {
                    let (code, g) = streets[cand.data];
                    let out = outside_length_m(g, &mls);
                    if out < length_m(&s.geometry) - tol {
                        touched.push(code);
                    }
                    if out <= tol && best.is_none_or(|(b, bc)| out < b || (out == b && code < bc)) {
                        best = Some((out, code));
                    }
                }
                match best {
                    Some((_, code)) => assigned.push((i, code.to_owned())),
                    None => {
                        touched.sort_unstable();
                        let detail = if touched.is_empty() {
                            "it is not inside any street office".to_owned()
                        } else {
                            format!("it crosses street offices {}; split it at their boundary or give street_code", touched.join(", "))
                        };
                        errs.push(ValidationError::new(
                            Layer::Roads,
                            &s.id,
                            format!("ownerless segment: {detail}"),
                        ));
                    }
                }
            }
        }
    }

    if !errs.is_empty() {
        return Err(errs);
    }
    for (i, code) in assigned {
        layers.segments[i].street_code = Some(code);
    }
    Ok(())
}

fn dup(layer: Layer, id: &str) -> ValidationError {
    ValidationError::new(layer, id, "duplicate id")
}

fn check_code(layer: Layer, code: &str, lens: &[usize], errs: &mut Vec<ValidationError>) -> bool {
    let ok = lens.contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        let want = lens
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(" or ");
        errs.push(ValidationError::new(
            layer,
            if code.is_empty() { "-" } else { code },
            format!("the code must be {want} digits"),
        ));
    }
    ok
}

/// Checks that `code[..prefix]` is one of `parents` (when that layer is loaded), else that
/// the code starts with the district code (when there is a district).
#[allow(clippy::too_many_arguments)]
fn check_parent(
    layer: Layer,
    id: &str,
    code: &str,
    prefix: usize,
    parents: &[&str],
    district_code: Option<&str>,
    errs: &mut Vec<ValidationError>,
) -> bool {
    let Some(parent) = code.get(..prefix) else {
        return false;
    };
    if !parents.is_empty() {
        if !parents.contains(&parent) {
            errs.push(ValidationError::new(
                layer,
                id,
                format!("missing parent: {parent} is not in the parent layer"),
            ));
            return false;
        }
    } else if let Some(dc) = district_code {
        if !code.starts_with(dc) {
            errs.push(ValidationError::new(
                layer,
                id,
                format!("missing parent: the code does not start with the district code {dc}"),
            ));
            return false;
        }
    }
    true
}

fn check_area_geometry(
    layer: Layer,
    id: &str,
    mp: &MultiPolygon,
    opt: &ValidationOptions,
    errs: &mut Vec<ValidationError>,
) -> bool {
    let before = errs.len();
    if mp.0.is_empty() {
        errs.push(ValidationError::new(layer, id, "empty geometry"));
        return false;
    }
    for (pi, poly) in mp.0.iter().enumerate() {
        for (ri, ring) in std::iter::once(poly.exterior())
            .chain(poly.interiors())
            .enumerate()
        {
            let which = if ri == 0 {
                format!("polygon {pi} exterior ring")
            } else {
                format!("polygon {pi} interior ring {ri}")
            };
            if let Some(reason) = ring_problem(ring, opt) {
                errs.push(ValidationError::new(
                    layer,
                    id,
                    format!("invalid geometry: {which} {reason}"),
                ));
            }
        }
    }
    if errs.len() == before && area_m2(mp) <= 0.0 {
        errs.push(ValidationError::new(
            layer,
            id,
            "invalid geometry: zero area",
        ));
    }
    errs.len() == before
}

fn ring_problem(ring: &LineString, opt: &ValidationOptions) -> Option<String> {
    let c = &ring.0;
    if let Some(p) = c.iter().find(|p| !in_range(p)) {
        return Some(format!(
            "has a non-finite or out-of-range position ({}, {})",
            p.x, p.y
        ));
    }
    if c.len() < 4 {
        return Some(format!(
            "has {} positions; a ring needs at least 4",
            c.len()
        ));
    }
    if c.first() != c.last() {
        return Some("is not closed (first and last positions differ)".to_owned());
    }
    if c.len() <= opt.max_self_intersection_vertices {
        if let Some(p) = ring_self_intersection(c) {
            return Some(format!("self-intersects near ({:.7}, {:.7})", p.x, p.y));
        }
    }
    None
}

fn in_range(p: &Coord) -> bool {
    p.x.is_finite()
        && p.y.is_finite()
        && (-180.0..=180.0).contains(&p.x)
        && (-90.0..=90.0).contains(&p.y)
}

fn check_line_geometry(id: &str, line: &LineString, errs: &mut Vec<ValidationError>) -> bool {
    if let Some(p) = line.0.iter().find(|p| !in_range(p)) {
        errs.push(ValidationError::new(
            Layer::Roads,
            id,
            format!(
                "invalid geometry: non-finite or out-of-range position ({}, {})",
                p.x, p.y
            ),
        ));
        return false;
    }
    let distinct = line.0.windows(2).any(|w| w[0] != w[1]);
    if line.0.len() < 2 || !distinct {
        errs.push(ValidationError::new(
            Layer::Roads,
            id,
            "invalid geometry: a segment needs at least 2 distinct positions",
        ));
        return false;
    }
    true
}

/// Finds a self-intersection of a closed ring (sweep over x; adjacent edges may only share
/// their common vertex). Returns a position near the problem.
fn ring_self_intersection(ring: &[Coord]) -> Option<Coord> {
    let mut pts: Vec<Coord> = Vec::with_capacity(ring.len());
    for p in ring {
        if pts.last() != Some(p) {
            pts.push(*p);
        }
    }
    let n = pts.len().checked_sub(1)?; // number of edges (last == first)
    if n < 3 {
        return None;
    }
    let mut order: Vec<usize> = (0..n).collect();
    let minx = |i: usize| pts[i].x.min(pts[i + 1].x);
    let maxx = |i: usize| pts[i].x.max(pts[i + 1].x);
    order.sort_by(|&a, &b| minx(a).total_cmp(&minx(b)));
    for (k, &i) in order.iter().enumerate() {
        let (a, b) = (pts[i], pts[i + 1]);
        for &j in &order[k + 1..] {
            if minx(j) > maxx(i) {
                break;
            }
            let (c, d) = (pts[j], pts[j + 1]);
            let adjacent =
                i + 1 == j || j + 1 == i || (i == 0 && j == n - 1) || (j == 0 && i == n - 1);
            if adjacent {
                // Shared vertex; invalid only if the edges fold back onto each other.
                let (shared, other_a, other_b) = if b == c { (b, a, d) } else { (a, b, c) };
                if RobustKernel::orient2d(other_a, shared, other_b) == Orientation::Collinear
                    && (other_a.x - shared.x) * (other_b.x - shared.x)
                        + (other_a.y - shared.y) * (other_b.y - shared.y)
                        > 0.0
                {
                    return Some(shared);
                }
                continue;
            }
            if segments_intersect(a, b, c, d) {
                return Some(a);
            }
        }
    }
    None
}

fn on_segment(p: Coord, q: Coord, r: Coord) -> bool {
    q.x <= p.x.max(r.x) && q.x >= p.x.min(r.x) && q.y <= p.y.max(r.y) && q.y >= p.y.min(r.y)
}

/// True when the closed segments `a`–`b` and `c`–`d` share at least one point.
pub(crate) fn segments_intersect(a: Coord, b: Coord, c: Coord, d: Coord) -> bool {
    let o1 = RobustKernel::orient2d(a, b, c);
    let o2 = RobustKernel::orient2d(a, b, d);
    let o3 = RobustKernel::orient2d(c, d, a);
    let o4 = RobustKernel::orient2d(c, d, b);
    if o1 != o2 && o3 != o4 {
        return true;
    }
    (o1 == Orientation::Collinear && on_segment(a, c, b))
        || (o2 == Orientation::Collinear && on_segment(a, d, b))
        || (o3 == Orientation::Collinear && on_segment(c, a, d))
        || (o4 == Orientation::Collinear && on_segment(c, b, d))
}

type EnvTree = RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>;

fn rect_of(r: Rect) -> Rectangle<[f64; 2]> {
    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y])
}

fn envelope_tree(items: &[(&str, &MultiPolygon)]) -> EnvTree {
    RTree::bulk_load(
        items
            .iter()
            .enumerate()
            .filter_map(|(i, (_, g))| g.bounding_rect().map(|r| GeomWithData::new(rect_of(r), i)))
            .collect(),
    )
}

fn line_envelope(line: &LineString) -> Option<AABB<[f64; 2]>> {
    line.bounding_rect()
        .map(|r| AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]))
}

/// Reports pairs overlapping by more than `eps` m²; returns the ids involved.
fn check_overlaps<'a>(
    layer: Layer,
    items: &[(&'a str, &MultiPolygon)],
    eps: f64,
    errs: &mut Vec<ValidationError>,
) -> HashSet<&'a str> {
    let tree = envelope_tree(items);
    let mut involved = HashSet::new();
    for (i, (id, g)) in items.iter().enumerate() {
        let Some(r) = g.bounding_rect() else { continue };
        let env = AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
        let mut partners: Vec<usize> = tree
            .locate_in_envelope_intersecting(&env)
            .map(|c| c.data)
            .filter(|&j| j > i)
            .collect();
        partners.sort_unstable();
        for j in partners {
            let (jid, jg) = items[j];
            let Some(jr) = jg.bounding_rect() else {
                continue;
            };
            // Envelopes that only touch (adjacent lattice cells) cannot overlap in area.
            let w = r.max().x.min(jr.max().x) - r.min().x.max(jr.min().x);
            let h = r.max().y.min(jr.max().y) - r.min().y.max(jr.min().y);
            if w <= 1e-12 || h <= 1e-12 {
                continue;
            }
            let a = area_m2(&g.intersection(jg));
            if a > eps {
                involved.insert(*id);
                involved.insert(jid);
                errs.push(ValidationError::new(
                    layer,
                    *id,
                    format!("overlaps {} {jid} by {a:.1} m²", singular(layer)),
                ));
            }
        }
    }
    involved
}

fn singular(layer: Layer) -> &'static str {
    match layer {
        Layer::District => "district",
        Layer::Neighbours => "neighbour",
        Layer::Streets => "street office",
        Layer::Communities => "community",
        Layer::Grids => "grid",
        Layer::Roads => "segment",
    }
}

/// Groups `children` by their parent code prefix and checks each group against its parent
/// (or against the district when the parent layer is not loaded).
#[allow(clippy::too_many_arguments)]
fn partition_by_parent(
    layer: Layer,
    children: &[(&str, &MultiPolygon)],
    prefix: usize,
    parent_layer: Layer,
    parents: &[(&str, &MultiPolygon)],
    district: Option<(&str, &MultiPolygon)>,
    overlapping: &HashSet<&str>,
    eps: f64,
    errs: &mut Vec<ValidationError>,
) {
    if parents.is_empty() {
        if let Some(d) = district {
            if overlapping.is_empty() {
                check_partition(layer, children, Layer::District, d, eps, errs);
            }
        }
        return;
    }
    let mut groups: BTreeMap<&str, Vec<(&str, &MultiPolygon)>> = BTreeMap::new();
    for c in children {
        if let Some(p) = c.0.get(..prefix) {
            groups.entry(p).or_default().push(*c);
        }
    }
    for (pcode, pgeom) in parents {
        let group = groups.remove(pcode).unwrap_or_default();
        if group.iter().any(|(id, _)| overlapping.contains(id)) {
            continue;
        }
        if group.is_empty() {
            errs.push(ValidationError::new(
                layer,
                *pcode,
                format!(
                    "{} {pcode} has no {}",
                    singular(parent_layer),
                    layer.as_str()
                ),
            ));
            continue;
        }
        check_partition(layer, &group, parent_layer, (pcode, pgeom), eps, errs);
    }
}

/// Children must cover the parent (no gap region > eps) and stay inside it.
fn check_partition(
    layer: Layer,
    children: &[(&str, &MultiPolygon)],
    parent_layer: Layer,
    parent: (&str, &MultiPolygon),
    eps: f64,
    errs: &mut Vec<ValidationError>,
) {
    let all = MultiPolygon(
        children
            .iter()
            .flat_map(|(_, g)| g.0.iter().cloned())
            .collect::<Vec<Polygon>>(),
    );
    let gaps = parent.1.difference(&all);
    for gap in gaps.0 {
        let gap = MultiPolygon(vec![gap]);
        let a = area_m2(&gap);
        if a > eps {
            let near = gap
                .interior_point()
                .map(|p| (p.x(), p.y()))
                .unwrap_or_default();
            errs.push(ValidationError::new(
                layer,
                parent.0,
                format!(
                    "gap: {a:.1} m² of {} {} is not covered by any {} (near {:.6}, {:.6})",
                    singular(parent_layer),
                    parent.0,
                    singular(layer),
                    near.0,
                    near.1
                ),
            ));
        }
    }
    let out = all.difference(parent.1);
    if area_m2(&out) > eps {
        for (id, g) in children {
            let a = area_m2(&g.difference(parent.1));
            if a > eps {
                errs.push(ValidationError::new(
                    layer,
                    *id,
                    format!(
                        "extends {a:.1} m² outside its {} {}",
                        singular(parent_layer),
                        parent.0
                    ),
                ));
            }
        }
    }
}

/// Length in metres of the parts of `lines` outside `area`.
fn outside_length_m(area: &MultiPolygon, lines: &MultiLineString) -> f64 {
    area.clip(lines, true).0.iter().map(length_m).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::coord;

    fn ring(pts: &[(f64, f64)]) -> Vec<Coord> {
        pts.iter().map(|&(x, y)| coord! { x: x, y: y }).collect()
    }

    #[test]
    fn bow_tie_self_intersects() {
        let r = ring(&[(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)]);
        assert!(ring_self_intersection(&r).is_some());
    }

    #[test]
    fn square_is_simple() {
        let r = ring(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)]);
        assert!(ring_self_intersection(&r).is_none());
    }

    #[test]
    fn spike_is_detected() {
        let r = ring(&[(0.0, 0.0), (2.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]);
        assert!(ring_self_intersection(&r).is_some());
    }
}
