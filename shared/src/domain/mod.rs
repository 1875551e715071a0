//! Pure domain rules: parsing and validation, no I/O.

pub mod analytics;
pub mod calendar;
pub mod flags;
pub mod generation;
pub mod organic;
pub mod prompt;
pub mod publish;
pub mod review;
pub mod synthesis;

/// The offline provider's answer to each prompt template.
pub const OFFLINE_ANSWERS: crate::ai::OfflineAnswers = &[
    (generation::TEMPLATE, generation::offline_answer),
    (calendar::TEMPLATE, calendar::offline_answer),
    (synthesis::TEMPLATE, synthesis::offline_answer),
    (organic::TEMPLATE, organic::offline::offline_answer),
    (
        publish::variation::TEMPLATE,
        publish::variation::offline_answer,
    ),
];

crate::text_enum! {
    /// The status of a generation or a synthesis: the row follows its job through the job's
    /// statuses, none of these kinds having a time limit (so never `timeout`). A new one is
    /// `pending`.
    pub enum RunStatus in "snake_case" {
        Pending,
        Running,
        Succeeded,
        Failed,
        Cancelled,
    }
}

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
