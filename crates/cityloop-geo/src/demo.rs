//! The demo district 二七区 (Erqi, Zhengzhou), embedded in the binary.
//!
//! Real: the district outline and the other Zhengzhou districts (neighbours), both from
//! the DataV/Amap scrape converted to WGS84, and the 15 street offices' official names and
//! 9-digit codes. Generated and flagged `schematic` (示意): the street-office polygons,
//! communities, unit grids and road segments (see `data/demo/erqi/NOTICE.md` and the
//! generator `examples/gen_erqi.rs`). The files live in `data/demo/erqi/` at the workspace
//! root and are compiled in, so the running product reads nothing from disk for the demo.

use crate::error::GeoError;
use crate::layers::{gunzip_to_string, territory_from_geojson, LayerTexts};
use crate::territory::Territory;

/// Erqi's district outline (real, WGS84).
pub const ERQI_DISTRICT: &str = include_str!("../../../data/demo/erqi/erqi_district.wgs84.geojson");
/// Zhengzhou's districts (real, WGS84); 二七区 itself is skipped when used as neighbours.
pub const ZHENGZHOU_DISTRICTS: &str =
    include_str!("../../../data/demo/erqi/zhengzhou_districts.wgs84.geojson");
/// Street offices: official names and codes, schematic polygons.
pub const ERQI_STREETS: &str = include_str!("../../../data/demo/erqi/erqi_streets.geojson");
/// Communities (schematic).
pub const ERQI_COMMUNITIES: &str = include_str!("../../../data/demo/erqi/erqi_communities.geojson");
/// Unit grids (schematic), gzip-compressed GeoJSON.
pub const ERQI_GRIDS_GZ: &[u8] = include_bytes!("../../../data/demo/erqi/erqi_grids.geojson.gz");
/// Road segments (schematic, named after real roads).
pub const ERQI_ROADS: &str = include_str!("../../../data/demo/erqi/erqi_roads.geojson");

/// Loads and validates the embedded demo territory of 二七区.
pub fn demo_erqi() -> Result<Territory, GeoError> {
    let grids = gunzip_to_string(ERQI_GRIDS_GZ, "embedded erqi_grids.geojson.gz")?;
    let texts = LayerTexts {
        district: Some(ERQI_DISTRICT),
        neighbours: Some(ZHENGZHOU_DISTRICTS),
        streets: Some(ERQI_STREETS),
        communities: Some(ERQI_COMMUNITIES),
        grids: Some(&grids),
        roads: Some(ERQI_ROADS),
    };
    Ok(territory_from_geojson(&texts)?)
}
