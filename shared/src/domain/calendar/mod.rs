//! Content calendars (seed 000): the request, its deterministic slot grid, the content the
//! AI writes per slot, the diff of a regeneration against the saved calendar, and export.
//! Pure: no I/O.

mod content;
mod diff;
mod export;
mod grid;
mod post;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{NaiveDate, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use super::Invalid;
use crate::jobs::{About, Deadline, JobKind, JobPayload, Row, Words};

/// The job that writes a calendar run's entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarJob {
    pub run_id: uuid::Uuid,
}

impl JobPayload for CalendarJob {
    const KIND: JobKind = JobKind::new(&About {
        name: "calendar",
        attempts: 3,
        row: Row {
            table: "calendar_runs",
            id_field: "run_id",
            path: None,
        },
        words: Words::Calendar,
        deadline: Some(Deadline {
            table: "calendar_runs",
            column: "deadline_at",
            expire: "expire_calendar_job",
        }),
    });
    const TYPE: &'static str = "calendar.v1";
}
pub(crate) use super::invalid;
pub use content::*;
pub use diff::*;
pub use export::*;
pub use grid::*;
pub use post::*;

pub const MAX_CHANNELS: usize = 10;
pub const MAX_RANGE_DAYS: i64 = 366;
pub const MAX_CONSTRAINTS_BYTES: usize = 16 * 1024;
pub const MAX_POSTS_PER_DAY: usize = 10;
/// A calendar larger than this (366 days x 10 channels x 10 posts would be 36,600) is refused.
pub const MAX_SLOTS: usize = 5_000;

crate::text_enum! {
    pub enum Cadence in "lowercase" {
        Daily,
        Weekly,
        Monthly,
    }
}

impl Cadence {
    /// The cadence `raw` names, or why it is none.
    pub fn parsed(raw: &str) -> Result<Self, String> {
        Self::parse(raw)
            .ok_or_else(|| format!("cadence must be `daily`, `weekly` or `monthly`, got `{raw}`"))
    }
}

/// A channel slug: 1-32 lowercase letters, digits, `-` and `_`, starting with a letter or
/// digit (`tiktok`, `instagram`, `linkedin-company`). Seed 000 types channels as plain
/// strings, so a name is taken trimmed and in any case (`" Instagram "` is `instagram`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Channel(String);

impl Channel {
    /// A slug as sent, trimmed and lowercased (the API documents the rule as a pattern).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let slug = raw.trim().to_ascii_lowercase();
        let valid = !slug.is_empty()
            && slug.len() <= 32
            && slug
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && slug
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if valid {
            Ok(Self(slug))
        } else {
            Err(format!(
                "`{raw}` is not a channel slug (1-32 of a-z, 0-9, `-`, `_`)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What shapes the slot grid, read from the request's `constraints` object. Other keys
/// (`topic`, `audience`, `tone`, ...) are kept and given to the AI as data.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraints {
    /// Posts per channel per publishing day (`postsPerDay`, 1-10); defaults to the number
    /// of `timesOfDay`.
    pub posts_per_day: usize,
    /// Publishing weekdays (`weekdays`: `mon`..`sun`) for daily and weekly cadences.
    pub weekdays: Option<HashSet<Weekday>>,
    /// Local publishing times (`timesOfDay`: `HH:MM`), post `i` of a day at `i mod n`.
    pub times_of_day: Vec<NaiveTime>,
    /// Whether `timesOfDay` was given (else a channel's learned best times may stand in).
    pub times_given: bool,
    /// `learnFromResults`: whether the prompt shows the user's best and worst recent
    /// posts (unset: when they have at least 10 measured ones on the channels).
    pub learn: Option<bool>,
    /// IANA time zone of those times (`timezone`), UTC by default.
    pub timezone: chrono_tz::Tz,
    /// Dates without posts (`excludedDates`).
    pub excluded_dates: BTreeSet<NaiveDate>,
    /// The object as sent, for the prompt.
    pub raw: Value,
}

impl Default for Constraints {
    fn default() -> Self {
        Self {
            posts_per_day: 1,
            weekdays: None,
            times_of_day: vec![NaiveTime::from_hms_opt(9, 0, 0).expect("a valid time")],
            times_given: false,
            learn: None,
            timezone: chrono_tz::UTC,
            excluded_dates: BTreeSet::new(),
            raw: Value::Object(Default::default()),
        }
    }
}

pub fn parse_weekday(raw: &str) -> Option<Weekday> {
    Some(match raw.to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    })
}

pub fn parse_date(field: &str, raw: &str) -> Result<NaiveDate, Invalid> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| invalid(field, format!("`{raw}` is not a date (YYYY-MM-DD)")))
}

/// A calendar's first or last day: a date (`YYYY-MM-DD`), or an RFC 3339 date-time, which
/// counts as its calendar date in `timezone` (its time of day does not narrow the slots).
pub fn parse_day(field: &str, raw: &str, timezone: chrono_tz::Tz) -> Result<NaiveDate, Invalid> {
    let raw = raw.trim();
    if raw.len() == 10 {
        return parse_date(field, raw);
    }
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|at| at.with_timezone(&timezone).date_naive())
        .map_err(|_| {
            invalid(
                field,
                format!("`{raw}` is neither a date (YYYY-MM-DD) nor a date-time (RFC 3339)"),
            )
        })
}

/// `HH:MM`, 24-hour, two digits each, as sent (the API documents it as a pattern).
pub fn parse_time(field: &str, raw: &str) -> Result<NaiveTime, Invalid> {
    NaiveTime::parse_from_str(raw, "%H:%M")
        .ok()
        .filter(|_| raw.len() == 5)
        .ok_or_else(|| invalid(field, format!("`{raw}` is not a time (HH:MM, 24-hour)")))
}

impl Constraints {
    pub fn parse(raw: &Value) -> Result<Self, Invalid> {
        let Value::Object(object) = raw else {
            return Err(invalid("constraints", "must be a JSON object"));
        };
        if serde_json::to_string(raw).map_or(0, |s| s.len()) > MAX_CONSTRAINTS_BYTES {
            return Err(invalid(
                "constraints",
                format!("must be at most {MAX_CONSTRAINTS_BYTES} bytes of JSON"),
            ));
        }
        let mut constraints = Constraints {
            raw: raw.clone(),
            ..Constraints::default()
        };
        let strings = |field: &str, value: &Value| -> Result<Vec<String>, Invalid> {
            value
                .as_array()
                .and_then(|items| {
                    items
                        .iter()
                        .map(|v| v.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| invalid(field, "must be an array of strings"))
        };
        if let Some(value) = object.get("timesOfDay") {
            let field = "constraints.timesOfDay";
            let times = strings(field, value)?
                .iter()
                .map(|t| parse_time(field, t))
                .collect::<Result<BTreeSet<_>, _>>()?;
            if times.is_empty() || times.len() > MAX_POSTS_PER_DAY {
                return Err(invalid(
                    field,
                    format!("must hold 1-{MAX_POSTS_PER_DAY} distinct times"),
                ));
            }
            constraints.times_of_day = times.into_iter().collect();
            constraints.posts_per_day = constraints.times_of_day.len();
            constraints.times_given = true;
        }
        if let Some(value) = object.get("learnFromResults") {
            let field = "constraints.learnFromResults";
            let learn = value
                .as_bool()
                .ok_or_else(|| invalid(field, "must be true or false"))?;
            constraints.learn = Some(learn);
        }
        if let Some(value) = object.get("postsPerDay") {
            let field = "constraints.postsPerDay";
            constraints.posts_per_day = value
                .as_u64()
                .filter(|n| (1..=MAX_POSTS_PER_DAY as u64).contains(n))
                .ok_or_else(|| {
                    invalid(
                        field,
                        format!("must be a whole number 1-{MAX_POSTS_PER_DAY}"),
                    )
                })? as usize;
        }
        if let Some(value) = object.get("weekdays") {
            let field = "constraints.weekdays";
            let days = strings(field, value)?
                .iter()
                .map(|d| {
                    parse_weekday(d)
                        .ok_or_else(|| invalid(field, format!("`{d}` is not a weekday (mon..sun)")))
                })
                .collect::<Result<HashSet<_>, _>>()?;
            if days.is_empty() {
                return Err(invalid(field, "must name at least one weekday"));
            }
            constraints.weekdays = Some(days);
        }
        if let Some(value) = object.get("timezone") {
            let field = "constraints.timezone";
            let name = value
                .as_str()
                .ok_or_else(|| invalid(field, "must be an IANA time zone name"))?;
            constraints.timezone = name
                .parse()
                .map_err(|_| invalid(field, format!("`{name}` is not an IANA time zone")))?;
        }
        if let Some(value) = object.get("excludedDates") {
            let field = "constraints.excludedDates";
            constraints.excluded_dates = strings(field, value)?
                .iter()
                .map(|d| parse_date(field, d))
                .collect::<Result<_, _>>()?;
        }
        Ok(constraints)
    }
}

/// A valid calendar request: what `POST /v1/ai/calendar` accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarSpec {
    pub channels: Vec<Channel>,
    pub cadence: Cadence,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub constraints: Constraints,
    /// Without `timesOfDay`: the channels that post at their own best hours (learned
    /// from their history, issue 58), each weekday's times; the others post at 09:00.
    pub learned: BTreeMap<String, WeekTimes>,
    /// The user's best and worst recent posts the AI is shown (`learnFromResults`).
    pub learned_from: Option<crate::domain::analytics::LearnedFrom>,
}

/// A channel's posting times on each weekday, Monday first.
pub type WeekTimes = [Vec<NaiveTime>; 7];

/// The week's days, Monday first.
pub const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// The three letters a weekday is written with in requests (`mon`).
pub fn weekday_word(day: Weekday) -> &'static str {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][day.num_days_from_monday() as usize]
}

impl CalendarSpec {
    pub fn parse(
        channels: &[String],
        cadence: &str,
        start: &str,
        end: &str,
        constraints: Option<&Value>,
    ) -> Result<Self, Invalid> {
        if channels.is_empty() || channels.len() > MAX_CHANNELS {
            return Err(invalid(
                "channels",
                format!("must name 1-{MAX_CHANNELS} channels"),
            ));
        }
        // Names that are one channel once trimmed and lowercased are one channel.
        let mut distinct = BTreeSet::new();
        let mut parsed = Vec::with_capacity(channels.len());
        for raw in channels {
            let channel = Channel::parse(raw).map_err(|reason| invalid("channels", reason))?;
            if distinct.insert(channel.clone()) {
                parsed.push(channel);
            }
        }
        let channels = parsed;
        let cadence = Cadence::parsed(cadence).map_err(|reason| invalid("cadence", reason))?;
        let constraints = match constraints {
            None | Some(Value::Null) => Constraints::default(),
            Some(raw) => Constraints::parse(raw)?,
        };
        let start = parse_day("start", start, constraints.timezone)?;
        let end = parse_day("end", end, constraints.timezone)?;
        if start > end {
            return Err(invalid("end", "must not be before start"));
        }
        let days = (end - start).num_days() + 1;
        if days > MAX_RANGE_DAYS {
            return Err(invalid(
                "end",
                format!("the range is {days} days; at most {MAX_RANGE_DAYS}"),
            ));
        }
        let spec = Self {
            channels,
            cadence,
            start,
            end,
            constraints,
            learned: BTreeMap::new(),
            learned_from: None,
        };
        let slots = spec.slot_count();
        if slots > MAX_SLOTS {
            return Err(invalid(
                "constraints",
                format!("the calendar would have {slots} entries; at most {MAX_SLOTS}"),
            ));
        }
        Ok(spec)
    }

    /// The request as stored with a run (and given back by the API), with the times
    /// learned for its channels (`learnedTimes: {channel: {mon: ["HH:MM"]}}`) when any.
    pub fn to_json(&self) -> Value {
        let mut json = serde_json::json!({
            "channels": self.channels,
            "cadence": self.cadence,
            "start": self.start,
            "end": self.end,
            "constraints": self.constraints.raw,
        });
        if !self.learned.is_empty() {
            let learned: serde_json::Map<String, Value> = self
                .learned
                .iter()
                .map(|(channel, week)| {
                    let days: serde_json::Map<String, Value> = WEEK
                        .iter()
                        .zip(week)
                        .map(|(day, times)| {
                            let times: Vec<String> = times
                                .iter()
                                .map(|t| t.format("%H:%M").to_string())
                                .collect();
                            (weekday_word(*day).to_owned(), Value::from(times))
                        })
                        .collect();
                    (channel.clone(), Value::Object(days))
                })
                .collect();
            json["learnedTimes"] = Value::Object(learned);
        }
        if let Some(learned_from) = &self.learned_from {
            json["learnedFrom"] = serde_json::to_value(learned_from).unwrap_or_default();
        }
        json
    }

    /// What the AI is given as the brief: the constraints as sent, and the user's best and
    /// worst recent posts with their engagement rates (`yourResults`) when it learns from
    /// them.
    pub fn brief(&self) -> Value {
        let mut brief = self.constraints.raw.clone();
        if let (Some(learned), Value::Object(object)) = (&self.learned_from, &mut brief) {
            object.insert("yourResults".to_owned(), learned.for_prompt());
        }
        brief
    }

    /// The times stored as `learnedTimes` (those that read as times).
    fn learned_of(value: &Value) -> BTreeMap<String, WeekTimes> {
        let Some(channels) = value.as_object() else {
            return BTreeMap::new();
        };
        channels
            .iter()
            .map(|(channel, days)| {
                let week = WEEK.map(|day| {
                    days[weekday_word(day)]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|t| NaiveTime::parse_from_str(t.as_str()?, "%H:%M").ok())
                        .collect()
                });
                (channel.clone(), week)
            })
            .collect()
    }

    /// Reads a stored request back.
    pub fn from_json(value: &Value) -> Result<Self, Invalid> {
        let channels: Vec<String> = value["channels"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut spec = Self::parse(
            &channels,
            value["cadence"].as_str().unwrap_or_default(),
            value["start"].as_str().unwrap_or_default(),
            value["end"].as_str().unwrap_or_default(),
            Some(&value["constraints"]),
        )?;
        if !spec.constraints.times_given {
            spec.learned = Self::learned_of(&value["learnedTimes"]);
        }
        spec.learned_from = serde_json::from_value(value["learnedFrom"].clone()).ok();
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(
        channels: &[&str],
        start: &str,
        end: &str,
        constraints: Value,
    ) -> Result<CalendarSpec, Invalid> {
        let channels: Vec<String> = channels.iter().map(|c| c.to_string()).collect();
        CalendarSpec::parse(&channels, "daily", start, end, Some(&constraints))
    }

    #[test]
    fn a_date_time_bound_counts_as_its_calendar_date_in_the_calendar_s_zone() {
        let paris = json!({ "timezone": "Europe/Paris" });
        // 23:30 UTC on the 3rd is already the 4th in Paris; 00:30+01:00 on the 4th too.
        let s = spec(
            &["tiktok"],
            "2027-01-03T23:30:00Z",
            "2027-01-10T00:30:00+01:00",
            paris,
        )
        .unwrap();
        assert_eq!(s.start.to_string(), "2027-01-04");
        assert_eq!(s.end.to_string(), "2027-01-10");
        // Both ends inclusive, the time of day narrowing nothing: 7 days, 7 slots.
        assert_eq!(s.slot_count(), 7);
        let utc = spec(&["tiktok"], "2027-01-04T09:00:00Z", "2027-01-04", json!({})).unwrap();
        assert_eq!((utc.start, utc.slot_count()), (utc.end, 1));
        assert_eq!(
            spec(&["tiktok"], "2027-01-04T25:00:00Z", "2027-01-05", json!({}))
                .unwrap_err()
                .field,
            "start"
        );
    }

    #[test]
    fn requests_are_validated_field_by_field() {
        assert!(spec(&["tiktok"], "2026-01-01", "2026-01-31", json!({})).is_ok());
        assert_eq!(
            spec(&[], "2026-01-01", "2026-01-02", json!({}))
                .unwrap_err()
                .field,
            "channels"
        );
        // Seed 000's channels are plain strings: trimmed, in any case, one channel once.
        let lenient = spec(
            &["Instagram", " TikTok ", "instagram"],
            "2026-01-01",
            "2026-01-02",
            json!({}),
        )
        .unwrap();
        let names: Vec<&str> = lenient.channels.iter().map(Channel::as_str).collect();
        assert_eq!(names, ["instagram", "tiktok"]);
        assert_eq!(
            spec(&["Bad Slug"], "2026-01-01", "2026-01-02", json!({}))
                .unwrap_err()
                .field,
            "channels"
        );
        assert_eq!(
            spec(&["a"], "2026-01-02", "2026-01-01", json!({}))
                .unwrap_err()
                .field,
            "end"
        );
        assert_eq!(
            spec(&["a"], "2026-01-01", "2027-01-02", json!({}))
                .unwrap_err()
                .field,
            "end"
        );
        assert!(
            spec(&["a"], "2024-01-01", "2024-12-31", json!({})).is_ok(),
            "366 days of a leap year"
        );
        assert_eq!(
            spec(&["a"], "2026-13-01", "2026-12-02", json!({}))
                .unwrap_err()
                .field,
            "start"
        );
        assert_eq!(
            spec(&["a"], "2026-01-01", "2026-01-02", json!([]))
                .unwrap_err()
                .field,
            "constraints"
        );
        let big = json!({ "notes": "x".repeat(MAX_CONSTRAINTS_BYTES) });
        assert_eq!(
            spec(&["a"], "2026-01-01", "2026-01-02", big)
                .unwrap_err()
                .field,
            "constraints"
        );
        let bad_tz = json!({ "timezone": "Mars/Olympus" });
        assert_eq!(
            spec(&["a"], "2026-01-01", "2026-01-02", bad_tz)
                .unwrap_err()
                .field,
            "constraints.timezone"
        );
        let too_many = json!({ "postsPerDay": 10 });
        let ten: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
        let err = CalendarSpec::parse(&ten, "daily", "2026-01-01", "2026-12-31", Some(&too_many))
            .unwrap_err();
        assert!(err.reason.contains("at most 5000"), "{err}");
    }

    #[test]
    fn stored_requests_read_back_the_same() {
        let original = spec(
            &["tiktok", "instagram"],
            "2026-03-01",
            "2026-03-31",
            json!({ "timesOfDay": ["18:30", "09:00"], "timezone": "Europe/Paris", "topic": "tea" }),
        )
        .unwrap();
        assert_eq!(
            CalendarSpec::from_json(&original.to_json()).unwrap(),
            original
        );
    }
}
