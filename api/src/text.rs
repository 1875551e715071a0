//! Request strings whose rules the OpenAPI document states: `Text` (free text, trimmed by
//! the handler, at least `MIN` characters once trimmed, at most `MAX` as sent) and `Word`
//! (one token such as a tag: no whitespace once trimmed). The handlers' domain checks
//! (`cards::parse_side`, `cards::parse_tags`, `SourceText::parse`) enforce exactly these
//! rules and name the field; these types carry them into the schema, so that a client
//! generated from the document, or a fuzzer, knows which strings are accepted.
//!
//! "Whitespace" is Rust's `char::is_whitespace` (Unicode White_Space), which `str::trim`
//! uses, spelled as an explicit class so that ECMA 262, Python's `re` and Rust's `regex`
//! read the patterns alike (their `\s` differ).

use std::borrow::Cow;

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;

/// The characters `char::is_whitespace` accepts, as a regex class body.
const WHITESPACE: &str =
    r"\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// U+0000, as a regex class member: no documented string may hold it (Postgres cannot store
/// it in `text`; the strict body refuses it anywhere, naming the field).
const NUL: &str = r"\u0000";

/// Free text: at least `MIN` characters once trimmed, at most `MAX` as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<const MIN: usize, const MAX: usize>(pub String);

/// One token: at most `MAX` characters as sent, something other than whitespace, and no
/// whitespace once trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word<const MAX: usize>(pub String);

/// A hashtag as a user types it: one token of at most `MAX` characters with something other
/// than `#` (`tea`, `#tea` and `##tea` are one tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashtag<const MAX: usize>(pub String);

/// The strings of a list of these types.
/// An optional http(s) URL as sent: empty (after trimming) is none; anything but an
/// http(s) URL is 422 naming `field`.
pub fn http_url<const MIN: usize, const MAX: usize>(
    field: &str,
    url: Text<MIN, MAX>,
) -> crate::error::ApiResult<Option<String>> {
    let url = url.0.trim();
    if url.is_empty() {
        return Ok(None);
    }
    match url::Url::parse(url) {
        Ok(parsed) if ["http", "https"].contains(&parsed.scheme()) => Ok(Some(url.to_owned())),
        _ => Err(crate::error::ApiError::unprocessable_field(
            field,
            "must be an http(s) URL",
        )),
    }
}

pub fn strings<T: Into<String>>(items: Vec<T>) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

/// A calendar date, `YYYY-MM-DD`. The pattern states the shape; a date no calendar has
/// (`2027-02-30`) is for the handler to refuse (422).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsoDate(pub String);

/// `YYYY-MM-DD`, with a month and a day of the month that can exist.
pub const DATE_PATTERN: &str = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";

/// A path or a query keeps an `IsoDate` as sent (`weekStart`, `from`, `to`): the handler
/// names the parameter when it reads the day ([`IsoDate::day`], [`IsoDate::monday`]),
/// before anything is read or stored. (poem-openapi names a path's parameters `param0`,
/// `param1`... in its own parse errors, so a refusal there could not say which.)
impl poem_openapi::types::ParseFromParameter for IsoDate {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(value.to_owned()))
    }
}

impl IsoDate {
    /// The day; 400 naming `field` for another shape than `YYYY-MM-DD` (`2026-2-2`,
    /// `+12026-02-02`), 422 for a day the calendar has not (`2026-02-30`, year `0000`).
    pub fn day(&self, field: &str) -> crate::error::ApiResult<chrono::NaiveDate> {
        static SHAPE: std::sync::LazyLock<regex::Regex> =
            std::sync::LazyLock::new(|| regex::Regex::new(DATE_PATTERN).expect("a valid pattern"));
        if !SHAPE.is_match(&self.0) {
            return Err(crate::error::ApiError::invalid_field(
                field,
                format!(
                    "{field} must be a date written YYYY-MM-DD (such as 2026-02-02), not `{}`",
                    self.0.escape_debug()
                ),
            ));
        }
        // Year 0 parses in the proleptic calendar, but nobody plans in it.
        chrono::NaiveDate::parse_from_str(&self.0, "%Y-%m-%d")
            .ok()
            .filter(|day| chrono::Datelike::year(day) > 0)
            .ok_or_else(|| {
                crate::error::ApiError::unprocessable_field(
                    field,
                    format!("{} is not a day of the calendar", self.0),
                )
            })
    }

    /// A period of days from `from` to `to` (inclusive), each optional: `to` defaults to
    /// `today`, `from` to `default_days` days ending on `to`. 422 naming `from` when it
    /// comes after `to` or the period is longer than `max_days`.
    pub fn period(
        from: &Option<Self>,
        to: &Option<Self>,
        today: chrono::NaiveDate,
        (default_days, max_days): (u64, u64),
    ) -> crate::error::ApiResult<(chrono::NaiveDate, chrono::NaiveDate)> {
        use crate::error::ApiError;
        let day = |field: &str, raw: &Option<Self>| raw.as_ref().map(|d| d.day(field)).transpose();
        let to = day("to", to)?.unwrap_or(today);
        let from = day("from", from)?
            .unwrap_or_else(|| to - chrono::Days::new(default_days.saturating_sub(1)));
        if from > to {
            return Err(ApiError::unprocessable_field(
                "from",
                "must not be after `to`",
            ));
        }
        if (to - from).num_days() as u64 >= max_days {
            let message = format!("the period is at most {max_days} days");
            return Err(ApiError::unprocessable_field("from", message));
        }
        Ok((from, to))
    }

    /// The day, which must be a Monday (the first day of a week): as [`IsoDate::day`], and
    /// 422 naming `field` for another day of the week.
    pub fn monday(&self, field: &str) -> crate::error::ApiResult<chrono::NaiveDate> {
        use chrono::Datelike;
        let day = self.day(field)?;
        if day.weekday() != chrono::Weekday::Mon {
            return Err(crate::error::ApiError::unprocessable_field(
                field,
                format!("{day} is a {}; a week starts on a Monday", day.format("%A")),
            ));
        }
        Ok(day)
    }
}

/// A calendar's first or last day: a date (`YYYY-MM-DD`) or an RFC 3339 date-time (which
/// counts as its calendar date in the calendar's time zone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarDay(pub String);

/// A time of day, `HH:MM`, 24-hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockTime(pub String);

/// `Text`'s pattern: no U+0000, and a stretch of at least `min` characters that starts and
/// ends with something other than whitespace. (`Text<0, _>` states no rule of its own: the
/// document's `^[^\u0000]*$` is added to it like to every plain string.)
fn text_pattern(min: usize) -> String {
    let solid = format!("[^{WHITESPACE}{NUL}]");
    let any = format!("[^{NUL}]");
    match min {
        0 => String::new(),
        1 => format!("^{any}*{solid}{any}*$"),
        _ => format!("^{any}*{solid}{any}{{{},}}{solid}{any}*$", min - 2),
    }
}

/// A documented pattern, compiled to check request strings with. `Text`'s own patterns are
/// checked natively: their unanchored `[\s\S]{998,}` costs a regex ~60 us per string (the
/// lazy DFA gives up on a thousand-state repetition), the trimmed length ~1 us.
pub enum Pattern {
    /// `text_pattern(min)`: at least `min` characters once trimmed.
    Trimmed(usize),
    Regex(regex::Regex),
}

impl Pattern {
    pub fn compile(pattern: &str) -> Result<Self, regex::Error> {
        let prefix = format!("^[^{NUL}]*[^{WHITESPACE}{NUL}][^{NUL}]{{");
        let stretch = pattern
            .strip_prefix(&prefix)
            .and_then(|rest| rest.split_once(",}"))
            .and_then(|(n, _)| n.parse::<usize>().ok())
            .map(|n| n + 2);
        match stretch {
            Some(min) if text_pattern(min) == pattern => Ok(Self::Trimmed(min)),
            _ if text_pattern(1) == pattern => Ok(Self::Trimmed(1)),
            _ => regex::Regex::new(pattern).map(Self::Regex),
        }
    }

    /// What a refused `text` lacks, in words: `Text`'s patterns say how many characters are
    /// needed and how many there are, others quote the pattern.
    pub fn rule(&self, text: &str) -> String {
        match self {
            Self::Trimmed(1) => "must not be blank".to_owned(),
            Self::Trimmed(min) => format!(
                "must be at least {min} characters long, not counting spaces at either end \
                 (it has {})",
                text.trim().chars().count()
            ),
            Self::Regex(regex) if regex.as_str() == cloze_pattern() => {
                "must hide at least one part as {{c1::...}}".to_owned()
            }
            Self::Regex(regex) => format!("must match `{}`", regex.as_str()),
        }
    }

    pub fn is_match(&self, text: &str) -> bool {
        match self {
            Self::Trimmed(min) => {
                !text.contains('\0') && text.trim().chars().nth(min - 1).is_some()
            }
            Self::Regex(regex) => regex.is_match(text),
        }
    }
}

fn string_schema(max: usize, pattern: String) -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        max_length: Some(max),
        pattern: (!pattern.is_empty()).then_some(pattern),
        ..MetaSchema::new("string")
    }))
}

macro_rules! string_type {
    ($ty:ident, $name:expr, $schema:expr) => {
        string_type!(@impl $ty [] [], $name, $schema);
    };
    ($ty:ident <$(const $param:ident: usize),+>, $name:expr, $schema:expr) => {
        string_type!(@impl $ty [$(const $param: usize),+] [<$($param),+>], $name, $schema);
    };
    (@impl $ty:ident [$($generics:tt)*] [$($args:tt)*], $name:expr, $schema:expr) => {
        impl<$($generics)*> Type for $ty$($args)* {
            const IS_REQUIRED: bool = true;
            type RawValueType = String;
            type RawElementValueType = String;

            fn name() -> Cow<'static, str> {
                $name.into()
            }

            fn schema_ref() -> MetaSchemaRef {
                $schema
            }

            fn as_raw_value(&self) -> Option<&String> {
                Some(&self.0)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
                Box::new(std::iter::once(&self.0))
            }
        }

        impl<$($generics)*> ParseFromJSON for $ty$($args)* {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                match value.unwrap_or_default() {
                    Value::String(s) => Ok(Self(s)),
                    other => Err(ParseError::expected_type(other)),
                }
            }
        }

        impl<$($generics)*> ToJSON for $ty$($args)* {
            fn to_json(&self) -> Option<Value> {
                Some(Value::String(self.0.clone()))
            }
        }

        impl<$($generics)*> serde::Serialize for $ty$($args)* {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<$($generics)*> From<$ty$($args)*> for String {
            fn from(value: $ty$($args)*) -> String {
                value.0
            }
        }

        impl<$($generics)*> std::ops::Deref for $ty$($args)* {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_type!(
    Text<const MIN: usize, const MAX: usize>,
    format!("text({MIN}..{MAX})"),
    string_schema(MAX, text_pattern(MIN))
);

string_type!(
    Word<const MAX: usize>,
    format!("word(..{MAX})"),
    string_schema(
        MAX,
        format!("^[{WHITESPACE}]*[^{WHITESPACE}{NUL}]+[{WHITESPACE}]*$")
    )
);

string_type!(
    Hashtag<const MAX: usize>,
    format!("hashtag(..{MAX})"),
    string_schema(
        MAX,
        format!(
            "^[{WHITESPACE}]*[^{WHITESPACE}{NUL}]*[^{WHITESPACE}{NUL}#][^{WHITESPACE}{NUL}]*[{WHITESPACE}]*$"
        )
    )
);

string_type!(IsoDate, "iso-date", string_schema(10, DATE_PATTERN.into()));

/// A cloze card's text: at most `MAX` characters, hiding at least one part as
/// `{{c1::...}}` (`generation::has_cloze`'s rule, which the handler checks too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClozeText<const MAX: usize>(pub String);

/// `ClozeText`'s pattern. The group keeps Schemathesis from rewriting it with the length
/// folded in: its rewrite writes `\}` back as a bare `}`, which ECMA 262's unicode mode
/// refuses.
fn cloze_pattern() -> String {
    format!(r"^([^{NUL}]*\{{\{{c[1-9][0-9]*::[^}}{NUL}]+\}}\}}[^{NUL}]*)$")
}

string_type!(
    ClozeText<const MAX: usize>,
    format!("cloze-text(..{MAX})"),
    string_schema(MAX, cloze_pattern())
);

string_type!(
    CalendarDay,
    "calendar-day",
    string_schema(
        40,
        "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$".into()
    )
);

string_type!(
    ClockTime,
    "clock-time",
    string_schema(5, "^([01][0-9]|2[0-3]):[0-5][0-9]$".into())
);

#[cfg(test)]
mod tests {
    use regex::Regex;

    #[test]
    fn a_refused_text_is_told_its_length_in_words() {
        let pattern = super::Pattern::compile(&super::text_pattern(1000)).unwrap();
        assert_eq!(
            pattern.rule("  short  "),
            "must be at least 1000 characters long, not counting spaces at either end (it has 5)"
        );
        let blank = super::Pattern::compile(&super::text_pattern(1)).unwrap();
        assert_eq!(blank.rule("   "), "must not be blank");
    }

    use super::*;

    fn pattern_of<T: Type>() -> Regex {
        let MetaSchemaRef::Inline(schema) = T::schema_ref() else {
            unreachable!("inline schemas")
        };
        Regex::new(schema.pattern.as_deref().unwrap()).unwrap()
    }

    #[test]
    fn the_source_texts_pattern_compiles_and_counts_trimmed_characters() {
        let source = pattern_of::<Text<1000, 10_000>>();
        let padded = |n: usize| format!("  {}\n", "é".repeat(n));
        assert!(source.is_match(&padded(1000)));
        assert!(!source.is_match(&padded(999)));
    }

    /// The patterns accept exactly what the handlers' trimming accepts.
    #[test]
    fn patterns_agree_with_str_trim() {
        let text = pattern_of::<Text<3, 10>>();
        let word = pattern_of::<Word<10>>();
        let hashtag = pattern_of::<Hashtag<10>>();
        let samples = [
            "",
            " ",
            "a",
            "ab",
            "abc",
            " abc ",
            "a c",
            "\u{3000}ab\u{3000}",
            "\u{85}abc",
            "\u{1c}\u{1c}\u{1c}",
            "a\u{feff}b",
            "x\n",
            "\ta b\t",
            "ab\u{2028}",
            "#",
            " ## ",
            "#tea",
            "a#b",
            "## #",
            "\0",
            "abc\0",
            " a\0bc ",
            "#t\0",
        ];
        for sample in samples {
            let trimmed = sample.trim();
            let storable = !sample.contains('\0');
            assert_eq!(
                text.is_match(sample),
                storable && trimmed.chars().count() >= 3,
                "text {sample:?}"
            );
            assert_eq!(
                word.is_match(sample),
                storable && !trimmed.is_empty() && !trimmed.chars().any(char::is_whitespace),
                "word {sample:?}"
            );
            assert_eq!(
                hashtag.is_match(sample),
                storable
                    && !trimmed.is_empty()
                    && !trimmed.chars().any(char::is_whitespace)
                    && trimmed.chars().any(|c| c != '#'),
                "hashtag {sample:?}"
            );
        }
        // The native check of `Text`'s patterns agrees with the regex.
        for min in [1, 2, 3, 1000] {
            let pattern = text_pattern(min);
            let native = Pattern::compile(&pattern).unwrap();
            assert!(
                matches!(native, Pattern::Trimmed(m) if m == min),
                "{pattern}"
            );
            let regex = Regex::new(&pattern).unwrap();
            let long = format!(" {} ", "é".repeat(min));
            let short = format!(" {} ", "é".repeat(min - 1));
            for sample in samples
                .iter()
                .copied()
                .chain([long.as_str(), short.as_str()])
            {
                assert_eq!(
                    native.is_match(sample),
                    regex.is_match(sample),
                    "{min} {sample:?}"
                );
            }
        }
        assert!(matches!(
            Pattern::compile("^[a-z]+$").unwrap(),
            Pattern::Regex(_)
        ));
        // Every whitespace character Rust knows is in the class, and nothing else.
        let class = Regex::new(&format!("^[{WHITESPACE}]$")).unwrap();
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            assert_eq!(class.is_match(&c.to_string()), c.is_whitespace(), "{c:?}");
        }
    }
}

#[cfg(test)]
mod cloze {
    use poem_openapi::{registry::MetaSchemaRef, types::Type};

    #[test]
    fn a_cloze_texts_pattern_is_the_cloze_rule() {
        let MetaSchemaRef::Inline(schema) = super::ClozeText::<500>::schema_ref() else {
            unreachable!()
        };
        let pattern = regex::Regex::new(schema.pattern.as_deref().unwrap()).unwrap();
        for text in [
            "The {{c1::heart}} pumps",
            "{{c12::a}}",
            "x {{c1::a}} {{c2::b}}",
            "{{c1::a",
            "{{c0::a}}",
            "{{c1::}}",
            "{c1::a}",
            "plain",
            "a\0 {{c1::b}}",
            "{{c1::a\0}}",
        ] {
            assert_eq!(
                pattern.is_match(text),
                !text.contains('\0') && almanac_shared::domain::generation::has_cloze(text),
                "{text:?}"
            );
        }
    }
}
