//! Pure domain rules: parsing and validation, no I/O.

pub mod calendar;
pub mod generation;
pub mod prompt;
pub mod synthesis;
