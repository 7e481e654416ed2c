#![doc = include_str!("../README.md")]

pub mod coords;
pub mod demo;
pub mod error;
pub mod geocode;
pub mod layers;
pub mod mapview;
pub mod metric;
pub mod patrol;
pub mod router;
pub mod territory;
pub mod tiles;
pub mod validate;

pub use coords::{to_wgs84, CoordSystem, UnknownCoordSystem};
pub use demo::demo_erqi;
pub use error::GeoError;
pub use router::{Route, Router, SegmentHit, DEFAULT_TOLERANCE_M};
pub use territory::{
    AreaRef, Community, District, Layer, RoadSegment, StreetOffice, Territory, TerritoryLayers,
    UnitGrid, ValidationError,
};
pub use validate::ValidationOptions;
