//! Coordinate systems used by Chinese phones and web maps, and conversion to WGS84.
//!
//! cityloop stores and routes everything in WGS84 (EPSG:4326). Intake may receive
//! GCJ-02 (Amap/Gaode, Tencent, most Chinese map SDKs) or BD-09 (Baidu) coordinates;
//! [`to_wgs84`] converts them at the edge.
//!
//! # Accuracy
//!
//! GCJ-02 is an obfuscation whose official algorithm is not public. The widely published
//! forward formula (WGS84 → GCJ-02, Krasovsky ellipsoid constants) reproduces it closely;
//! the inverse here iterates that formula until the round trip is within 1e-9° (the
//! requirement is 1e-7°, about 1 cm). The formula itself approximates the official offset,
//! so expect about 1–5 m of error in absolute position. BD-09 ↔ GCJ-02 uses the standard
//! published transform (again approximate at the metre level).
//! Outside China (the usual rough bounding box) GCJ-02 equals WGS84, as the formula defines.
//!
//! This module does not do datum transformations (CGCS2000 is treated as WGS84, which is
//! within centimetres), and it does no I/O.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A coordinate system in which a client may send a position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CoordSystem {
    /// WGS84 (GPS, OpenStreetMap). The storage system of cityloop.
    Wgs84,
    /// GCJ-02 ("Mars coordinates"): Amap/Gaode, Tencent and most Chinese map SDKs.
    Gcj02,
    /// BD-09: Baidu maps (GCJ-02 with a further offset).
    Bd09,
}

/// The error for an unknown coordinate-system name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown coordinate system {0:?} (expected wgs84, gcj02 or bd09)")]
pub struct UnknownCoordSystem(pub String);

impl CoordSystem {
    /// Parses `wgs84`, `gcj02` or `bd09` (ASCII case-insensitive, surrounding blanks ignored).
    pub fn parse(s: &str) -> Result<CoordSystem, UnknownCoordSystem> {
        match s.trim().to_ascii_lowercase().as_str() {
            "wgs84" => Ok(CoordSystem::Wgs84),
            "gcj02" => Ok(CoordSystem::Gcj02),
            "bd09" => Ok(CoordSystem::Bd09),
            _ => Err(UnknownCoordSystem(s.to_owned())),
        }
    }

    /// The canonical lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            CoordSystem::Wgs84 => "wgs84",
            CoordSystem::Gcj02 => "gcj02",
            CoordSystem::Bd09 => "bd09",
        }
    }
}

impl FromStr for CoordSystem {
    type Err = UnknownCoordSystem;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CoordSystem::parse(s)
    }
}

impl fmt::Display for CoordSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Converts `(lon, lat)` given in `sys` to WGS84 `(lon, lat)`.
///
/// Non-finite input gives non-finite output; callers validate ranges at the edge.
pub fn to_wgs84(sys: CoordSystem, lon: f64, lat: f64) -> (f64, f64) {
    match sys {
        CoordSystem::Wgs84 => (lon, lat),
        CoordSystem::Gcj02 => gcj02_to_wgs84(lon, lat),
        CoordSystem::Bd09 => {
            let (glon, glat) = bd09_to_gcj02(lon, lat);
            gcj02_to_wgs84(glon, glat)
        }
    }
}

/// Converts WGS84 `(lon, lat)` to `sys` (the forward direction, for tests and exports).
pub fn from_wgs84(sys: CoordSystem, lon: f64, lat: f64) -> (f64, f64) {
    match sys {
        CoordSystem::Wgs84 => (lon, lat),
        CoordSystem::Gcj02 => wgs84_to_gcj02(lon, lat),
        CoordSystem::Bd09 => {
            let (glon, glat) = wgs84_to_gcj02(lon, lat);
            gcj02_to_bd09(glon, glat)
        }
    }
}

/// Semi-major axis of the Krasovsky 1940 ellipsoid used by the GCJ-02 formula.
const GCJ_A: f64 = 6_378_245.0;
/// Eccentricity squared of the Krasovsky 1940 ellipsoid.
const GCJ_EE: f64 = 0.006_693_421_622_965_943;
const PI: f64 = std::f64::consts::PI;
const BD_X_PI: f64 = PI * 3000.0 / 180.0;

/// True outside the rough bounding box of China where GCJ-02 is defined as WGS84.
pub fn out_of_china(lon: f64, lat: f64) -> bool {
    !(72.004..=137.8347).contains(&lon) || !(0.8293..=55.8271).contains(&lat)
}

fn transform_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn transform_lon(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// The published GCJ-02 forward formula (WGS84 → GCJ-02).
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if out_of_china(lon, lat) {
        return (lon, lat);
    }
    let mut dlat = transform_lat(lon - 105.0, lat - 35.0);
    let mut dlon = transform_lon(lon - 105.0, lat - 35.0);
    let radlat = lat / 180.0 * PI;
    let magic = 1.0 - GCJ_EE * radlat.sin() * radlat.sin();
    let sqrtmagic = magic.sqrt();
    dlat = (dlat * 180.0) / ((GCJ_A * (1.0 - GCJ_EE)) / (magic * sqrtmagic) * PI);
    dlon = (dlon * 180.0) / (GCJ_A / sqrtmagic * radlat.cos() * PI);
    (lon + dlon, lat + dlat)
}

/// GCJ-02 → WGS84 by fixed-point iteration of [`wgs84_to_gcj02`] (round trip < 1e-9°).
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    if !lon.is_finite() || !lat.is_finite() || out_of_china(lon, lat) {
        return (lon, lat);
    }
    let (mut wlon, mut wlat) = (lon, lat);
    for _ in 0..50 {
        let (glon, glat) = wgs84_to_gcj02(wlon, wlat);
        let (elon, elat) = (glon - lon, glat - lat);
        wlon -= elon;
        wlat -= elat;
        if elon.abs() < 1e-10 && elat.abs() < 1e-10 {
            break;
        }
    }
    (wlon, wlat)
}

/// The standard BD-09 → GCJ-02 transform.
pub fn bd09_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    let x = lon - 0.0065;
    let y = lat - 0.006;
    let z = (x * x + y * y).sqrt() - 0.00002 * (y * BD_X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * BD_X_PI).cos();
    (z * theta.cos(), z * theta.sin())
}

/// The standard GCJ-02 → BD-09 transform.
pub fn gcj02_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    let z = (lon * lon + lat * lat).sqrt() + 0.00002 * (lat * BD_X_PI).sin();
    let theta = lat.atan2(lon) + 0.000003 * (lon * BD_X_PI).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names() {
        assert_eq!(CoordSystem::parse("wgs84"), Ok(CoordSystem::Wgs84));
        assert_eq!(CoordSystem::parse("GCJ02"), Ok(CoordSystem::Gcj02));
        assert_eq!(" bd09 ".parse::<CoordSystem>(), Ok(CoordSystem::Bd09));
        assert!(CoordSystem::parse("epsg:4326").is_err());
        assert_eq!(CoordSystem::Gcj02.to_string(), "gcj02");
    }

    #[test]
    fn zhengzhou_offset_is_about_560_m() {
        // README: GCJ − WGS ≈ +0.0060° lon, −0.0012° lat in Zhengzhou.
        let (glon, glat) = wgs84_to_gcj02(113.65, 34.75);
        assert!((glon - 113.65 - 0.0060).abs() < 0.0005, "{glon}");
        assert!((glat - 34.75 + 0.0012).abs() < 0.0005, "{glat}");
    }

    #[test]
    fn inverse_round_trips_below_1e7_degrees() {
        for i in 0..200 {
            let lon = 113.4 + (i as f64) * 0.0017;
            let lat = 34.5 + (i as f64) * 0.0013;
            for sys in [CoordSystem::Gcj02, CoordSystem::Bd09] {
                let (x, y) = from_wgs84(sys, lon, lat);
                let (wl, wt) = to_wgs84(sys, x, y);
                let tol = if sys == CoordSystem::Gcj02 {
                    1e-7
                } else {
                    1e-5
                };
                assert!(
                    (wl - lon).abs() < tol && (wt - lat).abs() < tol,
                    "{sys} {lon},{lat}"
                );
            }
        }
    }

    #[test]
    fn outside_china_gcj02_is_wgs84() {
        assert_eq!(
            to_wgs84(CoordSystem::Gcj02, -112.35, 33.68),
            (-112.35, 33.68)
        );
        assert_eq!(wgs84_to_gcj02(-71.07, 42.35), (-71.07, 42.35));
    }

    #[test]
    fn bd09_known_offset() {
        // BD-09 sits roughly +0.0065 lon, +0.006 lat from GCJ-02.
        let (b, c) = gcj02_to_bd09(113.6716, 34.7530);
        assert!((b - 113.6716 - 0.0065).abs() < 0.001 && (c - 34.7530 - 0.006).abs() < 0.001);
        let (g, h) = bd09_to_gcj02(b, c);
        assert!((g - 113.6716).abs() < 1e-5 && (h - 34.7530).abs() < 1e-5);
    }

    #[test]
    fn non_finite_input_does_not_loop() {
        let (x, y) = to_wgs84(CoordSystem::Gcj02, f64::NAN, 34.0);
        assert!(x.is_nan() && y == 34.0);
    }
}
