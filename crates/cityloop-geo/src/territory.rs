//! The territory model (块): district → street offices → communities → unit grids, plus road
//! segments and the neighbouring districts.
//!
//! A [`Territory`] can only be obtained through [`Territory::new`], which validates the
//! layers (see [`crate::validate`]) and returns every problem at once: a value of this type
//! is always a consistent, validated territory. All geometry is WGS84 `[lon, lat]`.
//!
//! Codes follow GB/T 2260 and the unit-grid standard: district 6 digits, street office
//! 9 digits (district + 3), community 12 digits (street + 3), unit grid 15 digits
//! (community + 3-digit sequence; the legacy 14-digit form with a 2-digit sequence is
//! accepted). A feature's parents are derived from its code.
//!
//! This module does not parse files (see [`crate::layers`]) and does not route points
//! (see [`crate::router`]).

use std::fmt;

use geo::{LineString, MultiPolygon};
use serde::{Deserialize, Serialize};

use crate::validate::{self, ValidationOptions};

/// A named area reference as it appears in routing answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AreaRef {
    /// The area's code (adcode, street, community or grid code).
    pub code: String,
    /// The area's display name.
    pub name: String,
}

/// A county-level district: the territory's own district or a neighbour.
#[derive(Clone, Debug, PartialEq)]
pub struct District {
    /// 6-digit GB/T 2260 code, e.g. `410103`.
    pub code: String,
    /// Name, e.g. `二七区`.
    pub name: String,
    /// Outline, WGS84.
    pub geometry: MultiPolygon,
    /// True when the geometry is generated or illustrative (示意), not authoritative.
    pub schematic: bool,
}

/// A street office (街道办事处) or town (镇).
#[derive(Clone, Debug, PartialEq)]
pub struct StreetOffice {
    /// 9-digit code, e.g. `410103010`.
    pub code: String,
    /// Official name, e.g. `德化街街道`.
    pub name: String,
    /// Polygon(s), WGS84.
    pub geometry: MultiPolygon,
    /// True when the geometry is generated or illustrative (示意).
    pub schematic: bool,
}

/// A community (社区) or village, inside one street office.
#[derive(Clone, Debug, PartialEq)]
pub struct Community {
    /// 12-digit code; its first 9 digits are the street office's code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Polygon(s), WGS84.
    pub geometry: MultiPolygon,
    /// True when generated or illustrative (示意).
    pub schematic: bool,
}

/// A unit grid (单元网格), inside one community.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitGrid {
    /// 15-digit code (14 accepted for legacy data); its first 12 digits are the community.
    pub code: String,
    /// Polygon(s), WGS84.
    pub geometry: MultiPolygon,
    /// True when generated or illustrative (示意).
    pub schematic: bool,
}

/// A road segment (路段): a piece of one road, normally lying in one street office.
#[derive(Clone, Debug, PartialEq)]
pub struct RoadSegment {
    /// Unique id. Ties in nearest-segment search go to the lowest id (byte-wise order).
    pub id: String,
    /// The road's name (may be empty for unnamed OSM ways).
    pub road_name: String,
    /// The line, WGS84.
    pub geometry: LineString,
    /// The street office owning the segment. Assigned by validation when the territory has
    /// street offices and the segment lies inside exactly one of them.
    pub street_code: Option<String>,
    /// True when generated or illustrative (示意).
    pub schematic: bool,
}

/// The raw layers of a territory, before validation. Any layer may be empty: a territory
/// may be partial (a road network only, or a grid only, for tests and benchmarks).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TerritoryLayers {
    /// The district itself.
    pub district: Option<District>,
    /// Neighbouring districts, for "this point is in 金水区" answers.
    pub neighbours: Vec<District>,
    /// Street offices.
    pub streets: Vec<StreetOffice>,
    /// Communities.
    pub communities: Vec<Community>,
    /// Unit grids.
    pub grids: Vec<UnitGrid>,
    /// Road segments.
    pub segments: Vec<RoadSegment>,
}

/// Which layer a feature or a problem belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// The district outline.
    District,
    /// Neighbouring districts.
    Neighbours,
    /// Street offices.
    Streets,
    /// Communities.
    Communities,
    /// Unit grids.
    Grids,
    /// Road segments.
    Roads,
}

impl Layer {
    /// The lowercase layer name used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::District => "district",
            Layer::Neighbours => "neighbours",
            Layer::Streets => "streets",
            Layer::Communities => "communities",
            Layer::Grids => "grids",
            Layer::Roads => "roads",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found while importing or validating a territory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{layer} {feature_id}: {reason}")]
pub struct ValidationError {
    /// The layer of the offending feature.
    pub layer: Layer,
    /// The feature's code or id (`#N` for the N-th feature when it has none, `-` for the file).
    pub feature_id: String,
    /// What is wrong, in a sentence.
    pub reason: String,
}

impl ValidationError {
    /// Builds a validation error.
    pub fn new(layer: Layer, feature_id: impl Into<String>, reason: impl Into<String>) -> Self {
        ValidationError {
            layer,
            feature_id: feature_id.into(),
            reason: reason.into(),
        }
    }
}

/// A validated territory. Features of each layer are sorted by code (segments by id).
#[derive(Clone, Debug, PartialEq)]
pub struct Territory {
    layers: TerritoryLayers,
}

impl Territory {
    /// Validates `layers` with the default options and builds the territory, or returns
    /// every problem found (nothing is half-loaded).
    pub fn new(layers: TerritoryLayers) -> Result<Territory, Vec<ValidationError>> {
        Territory::with_options(layers, &ValidationOptions::default())
    }

    /// Like [`Territory::new`] with explicit validation thresholds.
    pub fn with_options(
        mut layers: TerritoryLayers,
        options: &ValidationOptions,
    ) -> Result<Territory, Vec<ValidationError>> {
        validate::validate(&mut layers, options)?;
        layers.neighbours.sort_by(|a, b| a.code.cmp(&b.code));
        layers.streets.sort_by(|a, b| a.code.cmp(&b.code));
        layers.communities.sort_by(|a, b| a.code.cmp(&b.code));
        layers.grids.sort_by(|a, b| a.code.cmp(&b.code));
        layers.segments.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Territory { layers })
    }

    /// The district, when the territory has one.
    pub fn district(&self) -> Option<&District> {
        self.layers.district.as_ref()
    }
    /// Neighbouring districts, sorted by code.
    pub fn neighbours(&self) -> &[District] {
        &self.layers.neighbours
    }
    /// Street offices, sorted by code.
    pub fn streets(&self) -> &[StreetOffice] {
        &self.layers.streets
    }
    /// Communities, sorted by code.
    pub fn communities(&self) -> &[Community] {
        &self.layers.communities
    }
    /// Unit grids, sorted by code.
    pub fn grids(&self) -> &[UnitGrid] {
        &self.layers.grids
    }
    /// Road segments, sorted by id; `street_code` is filled in where a street owns them.
    pub fn segments(&self) -> &[RoadSegment] {
        &self.layers.segments
    }
    /// All layers.
    pub fn layers(&self) -> &TerritoryLayers {
        &self.layers
    }
    /// Gives the layers back.
    pub fn into_layers(self) -> TerritoryLayers {
        self.layers
    }
}

/// The street code (first 9 digits) of a community or grid code.
pub fn street_code_of(code: &str) -> Option<&str> {
    code.get(..9)
}

/// The community code (first 12 digits) of a grid code.
pub fn community_code_of(grid_code: &str) -> Option<&str> {
    grid_code.get(..12)
}

/// The district code (first 6 digits) of a street, community or grid code.
pub fn district_code_of(code: &str) -> Option<&str> {
    code.get(..6)
}
