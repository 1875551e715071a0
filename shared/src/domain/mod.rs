//! Pure domain rules: parsing and validation, no I/O.

pub mod generation;
