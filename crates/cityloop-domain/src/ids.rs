//! Identifiers: newtypes so that a unit id is never passed where a case id is expected,
//! and the human-readable case number (`410103-20261126-0001`).

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new random (time-ordered) id.
            pub fn new_v7() -> Self {
                Self(Uuid::now_v7())
            }

            /// Parses the canonical hyphenated form.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                Uuid::parse_str(s.trim()).map(Self).map_err(|_| IdError::Malformed {
                    kind: stringify!($name),
                    value: s.chars().take(64).collect(),
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// The internal id of a case.
    CaseId
);
uuid_id!(
    /// A department (条) or street office (块) that handles cases.
    UnitId
);
uuid_id!(
    /// A person with an account.
    PersonId
);

/// A malformed identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("malformed {kind}: {value:?}")]
    Malformed { kind: &'static str, value: String },
}

/// The case number people read out on the phone: district code, local date of intake,
/// and a per-day sequence, e.g. `410103-20261126-0007`. Unique, stable, never reused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaseNumber(pub String);

impl CaseNumber {
    /// Builds the number from its parts; the sequence is zero-padded to four digits
    /// and grows wider past 9999 (it never wraps).
    pub fn new(district_code: &str, local_date: NaiveDate, seq: i64) -> Self {
        Self(format!(
            "{}-{}-{:04}",
            district_code,
            local_date.format("%Y%m%d"),
            seq
        ))
    }

    /// The part before the sequence: district code and local date (`410103-20261126`).
    pub fn prefix(district_code: &str, local_date: NaiveDate) -> String {
        format!("{}-{}", district_code, local_date.format("%Y%m%d"))
    }

    /// A number from its prefix and sequence.
    pub fn with_prefix(prefix: &str, seq: i64) -> Self {
        Self(format!("{prefix}-{seq:04}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_number_has_district_date_and_padded_sequence() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        assert_eq!(
            CaseNumber::new("410103", d, 7).as_str(),
            "410103-20261126-0007"
        );
        assert_eq!(
            CaseNumber::new("410103", d, 12345).as_str(),
            "410103-20261126-12345"
        );
    }

    #[test]
    fn malformed_id_is_an_error_not_a_panic() {
        assert!(CaseId::parse("nope").is_err());
        let id = CaseId::new_v7();
        assert_eq!(CaseId::parse(&id.to_string()).unwrap(), id);
    }
}
