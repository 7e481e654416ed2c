//! The service layer's error: user errors (each with the field or rule it breaks) kept
//! apart from unexpected failures, so the HTTP layer can map each to one status code.

use cityloop_domain::workflow::TransitionError;
use cityloop_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A field is missing or invalid.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// No valid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but the role or scope does not allow it.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    /// The case is in the wrong state, or changed meanwhile.
    #[error("{0}")]
    Conflict(String),
    /// A value that must be unique is taken (e.g. a 12345 ticket number already
    /// registered from the same source); names the field.
    #[error("{field}: {message}")]
    Duplicate { field: String, message: String },
    /// A step that cannot follow where a record stands (an enforcement step out of
    /// order, a merge into the same or a closed case); names the field. 409 like a state
    /// conflict.
    #[error("{field}: {message}")]
    OutOfOrder { field: String, message: String },
    #[error("too many attempts; try again in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    /// The server is at its limit for this kind of work (e.g. every photo-decode slot
    /// is taken and the queue is full or the wait ran out); nothing was done, retry later.
    #[error("the server is busy; try again in {retry_after_s} s")]
    Busy { retry_after_s: u64 },
    /// The installation is not set up (no district, bad configuration).
    #[error("{0}")]
    NotConfigured(String),
    /// The database cannot be reached or lost the connection (e.g. during a failover); a
    /// write without an idempotency key may or may not have been stored. Retryable.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ServiceError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ServiceError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ServiceError::NotFound(what),
            StoreError::Conflict(m) => ServiceError::Conflict(m),
            StoreError::Unavailable(m) => ServiceError::Unavailable(m),
            // Which field held it is known only at the edge, which refuses it first.
            StoreError::InvalidText(_) => ServiceError::invalid(
                "text",
                "contains a character that cannot be stored (NUL, U+0000)",
            ),
            other => ServiceError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<TransitionError> for ServiceError {
    fn from(e: TransitionError) -> Self {
        match e {
            TransitionError::RoleNotAllowed { .. } | TransitionError::OutOfScope { .. } => {
                ServiceError::Forbidden(e.to_string())
            }
            TransitionError::WrongState { .. } | TransitionError::NotDue { .. } => {
                ServiceError::Conflict(e.to_string())
            }
            TransitionError::MergeIntoItself => ServiceError::OutOfOrder {
                field: "merge_into".into(),
                message: "a case cannot be merged into itself".into(),
            },
            TransitionError::AlreadyAssisting => ServiceError::OutOfOrder {
                field: "unit_id".into(),
                message: "this unit already assists on the case".into(),
            },
            TransitionError::AssistsOpen { open } => ServiceError::OutOfOrder {
                field: "assists".into(),
                message: format!(
                    "{open} assisting unit(s) have not reported back or been released; \
                     the lead reports back after them"
                ),
            },
            TransitionError::MissingField { field, action } => ServiceError::Invalid {
                field: field.into(),
                message: format!("is required for {action}"),
            },
            TransitionError::InvalidField { field, problem } => ServiceError::Invalid {
                field: field.into(),
                message: problem,
            },
        }
    }
}
