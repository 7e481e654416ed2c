//! Helpers shared by the integration tests: locating the real data in `shared/`.
//!
//! The shared directory is `$CITYLOOP_SHARED`, or `../shared` next to the workspace root.
//! A missing file fails the test with a clear message; nothing is skipped silently.

#![allow(dead_code)]

use std::path::PathBuf;

use cityloop_geo::layers::{parse_roads, read_layer_file};
use cityloop_geo::{Router, Territory, TerritoryLayers};

/// The shared directory.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("CITYLOOP_SHARED") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
}

/// A file of `shared/data/geo/`, which must exist.
pub fn geo_file(name: &str) -> PathBuf {
    let p = shared_dir().join("data/geo").join(name);
    assert!(
        p.is_file(),
        "missing test data {}: set CITYLOOP_SHARED to the shared directory (the one holding data/geo/)",
        p.display()
    );
    p
}

/// The text of a file of `shared/data/geo/`.
pub fn geo_text(name: &str) -> String {
    read_layer_file(&geo_file(name)).unwrap_or_else(|e| panic!("{e}"))
}

/// A roads-only territory and its router from an OSM roads file.
pub fn osm_router(name: &str) -> (Territory, Router) {
    let segments = parse_roads(&geo_text(name)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let t = Territory::new(TerritoryLayers {
        segments,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let r = Router::new(&t);
    (t, r)
}
