//! Patrol trails (路长巡查): which road segments a GPS trail actually covered.
//!
//! A trail is a list of timed positions from a phone. [`clean`] first drops the points that
//! cannot be believed and counts each kind: positions that are not finite WGS84, worse than
//! the accuracy limit, in the future, outside the district, not later than the previous kept
//! point, or reached from the previous kept point at an impossible speed (a GPS jump). What
//! is left is cut into runs wherever two kept points are further apart in time or distance
//! than the gap limits: nothing is assumed about where the chief went during a gap.
//!
//! [`coverage`] then measures, for every segment near the trail, the length of the segment
//! lying within the tolerance of the trail (each run is a polyline; the set of positions
//! within the tolerance of one of its pieces is a capsule, and the part of a straight segment
//! piece inside a convex capsule is one interval, computed exactly). The intervals of one
//! segment are merged, so walking a road twice does not count twice. A segment is credited
//! when the covered share of its length reaches the district's share. Distances are metres
//! in the tangent plane at each segment piece's first vertex ([`crate::metric`]).
//!
//! Candidates come from the router's piece R-tree; [`coverage_brute_force`] measures every
//! segment against every trail piece and must give the same answer (tests and
//! `cityloop bench patrol` check it). Pure: no I/O, no clock (the caller passes "now").

use geo::{Coord, LineString};
use serde::{Deserialize, Serialize};

use crate::metric::{distance_m, LocalFrame};
use crate::router::Router;

/// One trail position as the phone sampled it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrailPoint {
    /// When it was sampled, milliseconds since the Unix epoch (UTC).
    pub t_ms: i64,
    pub lon: f64,
    pub lat: f64,
    /// The phone's stated accuracy radius in metres, when it gave one.
    pub accuracy_m: Option<f64>,
}

/// The district's matching rules. The defaults are invented (no official figures exist):
/// see `MatchRules::default`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchRules {
    /// A segment position is covered when the trail passes within this many metres.
    pub tolerance_m: f64,
    /// Share (0–1] of a segment's length that must be covered for the patrol to count.
    pub min_share: f64,
    /// Faster than this from the previous kept point (metres per second) is a GPS jump.
    pub max_speed_mps: f64,
    /// Two kept points further apart in time than this start a new run (seconds).
    pub max_gap_s: i64,
    /// Two kept points further apart than this start a new run (metres).
    pub max_gap_m: f64,
    /// Points with a stated accuracy worse than this are dropped (metres).
    pub max_accuracy_m: f64,
    /// Points later than "now" by more than this are in the future (seconds; phone clocks
    /// drift).
    pub future_skew_s: i64,
}

impl Default for MatchRules {
    /// Invented defaults (cityloop's own, not from any standard): 20 m either side of the
    /// road line, 60 % of a segment, 120 km/h, a new run after 60 s or 100 m without a point,
    /// 50 m accuracy, 2 minutes of clock skew.
    fn default() -> Self {
        MatchRules {
            tolerance_m: 20.0,
            min_share: 0.6,
            max_speed_mps: 120.0 / 3.6,
            max_gap_s: 60,
            max_gap_m: 100.0,
            max_accuracy_m: 50.0,
            future_skew_s: 120,
        }
    }
}

impl MatchRules {
    /// The first rule out of range, as (field, reason).
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        let pos = |v: f64| v.is_finite() && v > 0.0;
        if !pos(self.tolerance_m) || self.tolerance_m > 200.0 {
            return Err(("tolerance_m", "must be above 0 and at most 200 metres"));
        }
        if !(self.min_share.is_finite() && self.min_share > 0.0 && self.min_share <= 1.0) {
            return Err(("min_share", "must be above 0 and at most 1"));
        }
        if !pos(self.max_speed_mps) {
            return Err(("max_speed_mps", "must be above 0"));
        }
        if self.max_gap_s <= 0 {
            return Err(("max_gap_s", "must be above 0"));
        }
        if !pos(self.max_gap_m) {
            return Err(("max_gap_m", "must be above 0"));
        }
        if !pos(self.max_accuracy_m) {
            return Err(("max_accuracy_m", "must be above 0"));
        }
        if self.future_skew_s < 0 {
            return Err(("future_skew_s", "must not be negative"));
        }
        Ok(())
    }
}

/// How many points were dropped, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Dropped {
    /// Not finite, or not a WGS84 longitude/latitude.
    pub invalid: u32,
    /// Stated accuracy worse than the limit.
    pub inaccurate: u32,
    /// Sampled after "now" plus the allowed skew.
    pub future: u32,
    /// Outside the district.
    pub outside: u32,
    /// Not later than the previous kept point.
    pub out_of_order: u32,
    /// Reached at an impossible speed from the previous kept point.
    pub jump: u32,
}

impl Dropped {
    pub fn total(&self) -> u32 {
        self.invalid + self.inaccurate + self.future + self.outside + self.out_of_order + self.jump
    }

    /// Adds another count.
    pub fn add(&mut self, o: &Dropped) {
        self.invalid += o.invalid;
        self.inaccurate += o.inaccurate;
        self.future += o.future;
        self.outside += o.outside;
        self.out_of_order += o.out_of_order;
        self.jump += o.jump;
    }
}

/// A trail after [`clean`]: the kept points in runs, and the dropped counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cleaned {
    pub runs: Vec<Vec<TrailPoint>>,
    pub dropped: Dropped,
}

impl Cleaned {
    /// Kept points.
    pub fn kept(&self) -> usize {
        self.runs.iter().map(Vec::len).sum()
    }

    /// Length of the runs in metres.
    pub fn length_m(&self) -> f64 {
        self.runs
            .iter()
            .flat_map(|r| r.windows(2))
            .map(|w| distance_m((w[0].lon, w[0].lat), (w[1].lon, w[1].lat)))
            .sum()
    }
}

/// Drops unbelievable points (see the module documentation) and cuts the rest into runs.
/// `points` are in the order the phone sent them; `inside` says whether a point is in the
/// district.
pub fn clean(
    points: &[TrailPoint],
    now_ms: i64,
    rules: &MatchRules,
    inside: impl Fn(f64, f64) -> bool,
) -> Cleaned {
    let mut out = Cleaned::default();
    let mut run: Vec<TrailPoint> = Vec::new();
    let mut last: Option<TrailPoint> = None;
    let future_ms = now_ms.saturating_add(rules.future_skew_s.saturating_mul(1000));
    for p in points {
        let d = &mut out.dropped;
        if !(p.lon.is_finite() && p.lat.is_finite() && p.lon.abs() <= 180.0 && p.lat.abs() <= 90.0)
            || p.accuracy_m.is_some_and(|a| !a.is_finite() || a < 0.0)
        {
            d.invalid += 1;
            continue;
        }
        if p.accuracy_m.is_some_and(|a| a > rules.max_accuracy_m) {
            d.inaccurate += 1;
            continue;
        }
        if p.t_ms > future_ms {
            d.future += 1;
            continue;
        }
        if !inside(p.lon, p.lat) {
            d.outside += 1;
            continue;
        }
        if let Some(l) = last {
            if p.t_ms <= l.t_ms {
                d.out_of_order += 1;
                continue;
            }
            let metres = distance_m((l.lon, l.lat), (p.lon, p.lat));
            let secs = (p.t_ms - l.t_ms) as f64 / 1000.0;
            if metres > rules.max_speed_mps * secs {
                d.jump += 1;
                continue;
            }
            if p.t_ms - l.t_ms > rules.max_gap_s.saturating_mul(1000) || metres > rules.max_gap_m {
                out.runs.push(std::mem::take(&mut run));
            }
        }
        run.push(*p);
        last = Some(*p);
    }
    if !run.is_empty() {
        out.runs.push(run);
    }
    out
}

/// What a trail did for one segment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SegmentCoverage {
    pub segment_id: String,
    /// The segment's length in metres.
    pub length_m: f64,
    /// Metres of it within the tolerance of the trail.
    pub covered_m: f64,
    /// `covered_m / length_m`, 0–1.
    pub share: f64,
    /// The share reached the district's minimum: the patrol counts for this segment.
    pub credited: bool,
}

/// The coverage of every segment the trail came within the tolerance of, in segment id
/// order (index search).
pub fn coverage(router: &Router, trail: &Cleaned, rules: &MatchRules) -> Vec<SegmentCoverage> {
    measure(router, trail, rules, false)
}

/// [`coverage`] by measuring every segment against every trail piece: the reference.
pub fn coverage_brute_force(
    router: &Router,
    trail: &Cleaned,
    rules: &MatchRules,
) -> Vec<SegmentCoverage> {
    measure(router, trail, rules, true)
}

/// The trail's pieces: consecutive points of a run, and a lone point as a piece of length 0.
fn trail_pieces(trail: &Cleaned) -> Vec<(Coord, Coord)> {
    let c = |p: &TrailPoint| Coord { x: p.lon, y: p.lat };
    let mut out = Vec::new();
    for r in &trail.runs {
        match r.len() {
            0 => {}
            1 => out.push((c(&r[0]), c(&r[0]))),
            _ => out.extend(r.windows(2).map(|w| (c(&w[0]), c(&w[1])))),
        }
    }
    out
}

fn measure(
    router: &Router,
    trail: &Cleaned,
    rules: &MatchRules,
    brute: bool,
) -> Vec<SegmentCoverage> {
    let tol = rules.tolerance_m;
    // Per segment index: covered intervals in metres along the segment.
    let mut found: std::collections::BTreeMap<u32, Vec<(f64, f64)>> = Default::default();
    let mut near = Vec::new();
    for (p, q) in trail_pieces(trail) {
        if brute {
            near.clear();
            near.extend(0..router.segment_count() as u32);
        } else {
            router.segments_near_piece(p, q, tol, &mut near);
        }
        for &i in &near {
            let mut offset = 0.0;
            let g = router.segment_geometry(i);
            for w in g.0.windows(2) {
                let f = LocalFrame::at(w[0].x, w[0].y);
                let (bx, by) = f.project(w[1].x, w[1].y);
                let len = (bx * bx + by * by).sqrt();
                if let Some((lo, hi)) = capsule_interval(&f, (bx, by), len, p, q, tol) {
                    found.entry(i).or_default().push((offset + lo, offset + hi));
                }
                offset += len;
            }
        }
    }
    found
        .into_iter()
        .filter_map(|(i, mut iv)| {
            let length = segment_length_m(router.segment_geometry(i));
            iv.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut covered = 0.0;
            let mut cur: Option<(f64, f64)> = None;
            for (lo, hi) in iv {
                cur = match cur {
                    Some((a, b)) if lo <= b => Some((a, b.max(hi))),
                    Some((a, b)) => {
                        covered += b - a;
                        Some((lo, hi))
                    }
                    None => Some((lo, hi)),
                };
            }
            if let Some((a, b)) = cur {
                covered += b - a;
            }
            if length <= 0.0 {
                return None;
            }
            let share = (covered / length).clamp(0.0, 1.0);
            Some(SegmentCoverage {
                segment_id: router.segment_id(i).to_owned(),
                length_m: length,
                covered_m: covered,
                share,
                credited: share + 1e-9 >= rules.min_share,
            })
        })
        .collect()
}

/// A segment's length measured as [`coverage`] measures it (each piece in the frame at its
/// first vertex).
pub fn segment_length_m(g: &LineString) -> f64 {
    g.0.windows(2)
        .map(|w| {
            let (x, y) = LocalFrame::at(w[0].x, w[0].y).project(w[1].x, w[1].y);
            (x * x + y * y).sqrt()
        })
        .sum()
}

/// The part `[lo, hi]` (metres from the origin) of the segment piece from the frame's origin
/// to `b` (length `len`) lying within `r` metres of the trail piece `p`–`q`: the
/// intersection of a line with a capsule, which is one interval (the capsule is convex), the
/// hull of its intersections with the two end discs and the middle rectangle.
fn capsule_interval(
    f: &LocalFrame,
    b: (f64, f64),
    len: f64,
    p: Coord,
    q: Coord,
    r: f64,
) -> Option<(f64, f64)> {
    if len <= 0.0 {
        return None;
    }
    let (ux, uy) = (b.0 / len, b.1 / len);
    let (px, py) = f.project(p.x, p.y);
    let (qx, qy) = f.project(q.x, q.y);
    // Quick reject: the trail piece's box, widened by r, misses the segment piece's box.
    if px.min(qx) - r > b.0.max(0.0)
        || px.max(qx) + r < b.0.min(0.0)
        || py.min(qy) - r > b.1.max(0.0)
        || py.max(qy) + r < b.1.min(0.0)
    {
        return None;
    }
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (cx, cy) in [(px, py), (qx, qy)] {
        // |s·u − c|² ≤ r²  ⇔  s² − 2 s (u·c) + |c|² − r² ≤ 0.
        let h = ux * cx + uy * cy;
        let disc = h * h - (cx * cx + cy * cy - r * r);
        if disc >= 0.0 {
            let sq = disc.sqrt();
            lo = lo.min(h - sq);
            hi = hi.max(h + sq);
        }
    }
    let (dx, dy) = (qx - px, qy - py);
    let plen = (dx * dx + dy * dy).sqrt();
    if plen > 0.0 {
        let (vx, vy) = (dx / plen, dy / plen);
        let (nx, ny) = (-vy, vx);
        // along(s) = (s·u − p)·v, across(s) = (s·u − p)·n.
        let (a0, a1) = (-(px * vx + py * vy), ux * vx + uy * vy);
        let (c0, c1) = (-(px * nx + py * ny), ux * nx + uy * ny);
        let mut iv = Some((f64::NEG_INFINITY, f64::INFINITY));
        for (k0, k1, min, max) in [(a0, a1, 0.0, plen), (c0, c1, -r, r)] {
            iv = iv.and_then(|(s0, s1)| {
                if k1.abs() < 1e-12 {
                    (k0 >= min && k0 <= max).then_some((s0, s1))
                } else {
                    let (e0, e1) = ((min - k0) / k1, (max - k0) / k1);
                    let (e0, e1) = (e0.min(e1), e0.max(e1));
                    let (n0, n1) = (s0.max(e0), s1.min(e1));
                    (n0 <= n1).then_some((n0, n1))
                }
            });
        }
        if let Some((s0, s1)) = iv {
            lo = lo.min(s0);
            hi = hi.max(s1);
        }
    }
    let (lo, hi) = (lo.max(0.0), hi.min(len));
    (lo < hi).then_some((lo, hi))
}

#[cfg(test)]
mod tests;
