//! The crate's error type for loading territories from files or embedded data.
//!
//! Validation problems are values ([`crate::ValidationError`]), collected in full; this
//! type only wraps them together with the I/O and decoding failures of the load functions.

use std::path::PathBuf;

use crate::territory::ValidationError;

/// Why a territory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// A layer file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A layer was not valid gzip or not UTF-8.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// The file or embedded layer.
        what: String,
        /// Why.
        reason: String,
    },
    /// The layers parsed but are invalid; every problem is listed.
    #[error("{} territory problem(s): {}", .0.len(), join(.0))]
    Invalid(Vec<ValidationError>),
}

fn join(errs: &[ValidationError]) -> String {
    const SHOWN: usize = 20;
    let mut s = errs
        .iter()
        .take(SHOWN)
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ");
    if errs.len() > SHOWN {
        s.push_str(&format!("; and {} more", errs.len() - SHOWN));
    }
    s
}

impl From<Vec<ValidationError>> for GeoError {
    fn from(errs: Vec<ValidationError>) -> Self {
        GeoError::Invalid(errs)
    }
}
