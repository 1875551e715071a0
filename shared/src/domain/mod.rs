//! Pure domain rules: parsing and validation, no I/O.

pub mod calendar;
pub mod generation;
pub mod prompt;
pub mod synthesis;

/// A validation failure: the field and why (400 or 422 at the edge, as each seed says).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    pub field: String,
    pub reason: String,
}

pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Invalid {
    Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}
