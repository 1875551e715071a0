//! The field readers of a request's parsing: each reads one member, records what is wrong
//! with it as a [`FieldProblem`], and gives the value only when it is right, so that one pass
//! over the body lists every problem.

use chrono::{Days, NaiveDate};
use serde_json::{Map, Value};

use serde::Serialize;

use super::SeedPlatform;

/// One thing wrong with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    /// Where, as a path into the body: `placements[2].dayId`.
    pub field: String,
    pub reason: String,
}

/// The problems found so far.
#[derive(Default)]
pub(super) struct Problems(pub(super) Vec<FieldProblem>);

impl Problems {
    pub(super) fn add(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push(FieldProblem {
            field: field.into(),
            reason: reason.into(),
        });
    }

    /// A string member: not blank, at most `max` characters.
    pub(super) fn text(
        &mut self,
        object: &Map<String, Value>,
        key: &str,
        field: &str,
        required: bool,
        max: usize,
    ) -> Option<String> {
        self.text_value(object.get(key), field, required, max)
    }

    pub(super) fn text_value(
        &mut self,
        value: Option<&Value>,
        field: &str,
        required: bool,
        max: usize,
    ) -> Option<String> {
        match value {
            None | Some(Value::Null) => {
                if required {
                    self.add(field, "is required");
                }
                None
            }
            // As sent, not trimmed: the document states these strings' rules, and a value
            // it refuses must not pass here (nor one it accepts fail, but for emptiness).
            Some(Value::String(text)) => {
                if text.trim().is_empty() {
                    self.add(field, "must not be empty");
                    None
                } else if text.chars().count() > max {
                    self.add(field, format!("must be at most {max} characters"));
                    None
                } else {
                    Some(text.clone())
                }
            }
            Some(_) => {
                self.add(field, "must be a string");
                None
            }
        }
    }

    pub(super) fn date(
        &mut self,
        object: &Map<String, Value>,
        key: &str,
        field: &str,
        required: bool,
    ) -> Option<NaiveDate> {
        let text = self.text(object, key, field, required, 10)?;
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(date) if text.len() == 10 => Some(date),
            _ => {
                self.add(field, format!("`{text}` is not a date (YYYY-MM-DD)"));
                None
            }
        }
    }

    pub(super) fn flag(&mut self, object: &Map<String, Value>, key: &str, field: &str) -> bool {
        match object.get(key) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(flag)) => *flag,
            Some(_) => {
                self.add(field, "must be true or false");
                false
            }
        }
    }

    pub(super) fn platform(&mut self, value: &Value, field: &str) -> Option<SeedPlatform> {
        match value.as_str() {
            Some(text) => SeedPlatform::parse(text).or_else(|| {
                self.add(
                    field,
                    format!(
                        "`{text}` is not a supported platform (instagram, linkedin, facebook, \
                         tiktok, youtube)"
                    ),
                );
                None
            }),
            None => {
                self.add(field, "must be a platform name");
                None
            }
        }
    }

    pub(super) fn in_week(
        &mut self,
        day: NaiveDate,
        week: Option<NaiveDate>,
        field: &str,
    ) -> Option<NaiveDate> {
        let week = week?;
        if day < week || day > week + Days::new(6) {
            self.add(
                field,
                format!(
                    "{day} is outside the week of {week} (to {})",
                    week + Days::new(6)
                ),
            );
            return None;
        }
        Some(day)
    }
}
