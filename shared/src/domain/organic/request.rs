//! Seed 003's request, parsed with every problem listed at once (`[{field, reason}]`), so a
//! client fixes its seed map in one round trip. Identical duplicate placements collapse
//! into one; differing ones under one `placementId` are a problem naming it.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use serde_json::Value;

pub use super::problems::FieldProblem;
use super::{Format, SeedPlatform, problems::Problems};

/// The longest `placementId`, `trendId`, `accountId` or `timeLabel`.
pub const TEXT_MAX: usize = 200;
/// The longest `guidancePrompt`.
pub const GUIDANCE_MAX: usize = 2_000;
/// The longest `language` tag.
pub const LANGUAGE_MAX: usize = 35;

/// Where a seed came from (`seed.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum SeedSource {
    Trend,
    Question,
    Event,
    Manual,
}

impl SeedSource {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Trend, Self::Question, Self::Event, Self::Manual]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One placement of the seed map.
#[derive(Debug, Clone, PartialEq)]
pub struct Seed {
    pub placement_id: String,
    pub trend_id: String,
    pub day: NaiveDate,
    pub scheduled_at: DateTime<Utc>,
    pub time_label: Option<String>,
    pub platform: SeedPlatform,
    pub account_id: Option<String>,
    pub source: Option<SeedSource>,
    pub format: Option<Format>,
    /// `metadata.tags`: creative library tags to match.
    pub tags: Vec<String>,
    pub metadata: Option<Value>,
}

/// The preset that auto-fills the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Every day without a seed gets one post per preferred platform; the newsletter goes
    /// out on Thursday.
    BetaLaunch,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    pub preset: Option<Preset>,
    pub include_newsletter: bool,
    pub newsletter_day: Option<NaiveDate>,
    pub guidance_prompt: Option<String>,
    pub language: Option<String>,
    pub preferred_platforms: Vec<SeedPlatform>,
    /// Regenerate placements the user edited too.
    pub overwrite_edited: bool,
    /// `learnFromResults`: whether the prompt shows the user's best and worst recent posts
    /// (unset: when they have at least 10 measured ones on the week's platforms).
    pub learn: Option<bool>,
}

/// A valid request.
#[derive(Debug, Clone, PartialEq)]
pub struct OrganicSpec {
    pub brand_id: String,
    pub week_start: NaiveDate,
    pub timezone: Tz,
    pub platform_account_ids: BTreeMap<SeedPlatform, String>,
    /// Without duplicates, in the request's order.
    pub seeds: Vec<Seed>,
    pub options: Options,
}

impl OrganicSpec {
    /// The week's seven days.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.week_start.iter_days().take(7)
    }

    /// The accounts the request names: `(platform, accountId)` of `platformAccountIds`
    /// and of each placement.
    pub fn named_accounts(&self) -> Vec<(SeedPlatform, String)> {
        let mut accounts: Vec<(SeedPlatform, String)> = self
            .platform_account_ids
            .iter()
            .map(|(p, a)| (*p, a.clone()))
            .chain(
                self.seeds
                    .iter()
                    .filter_map(|s| s.account_id.clone().map(|a| (s.platform, a))),
            )
            .collect();
        accounts.sort();
        accounts.dedup();
        accounts
    }

    /// Parses the request body. `max_placements` bounds the seeds it may hold
    /// (`ORGANIC_MAX_PLACEMENTS`).
    pub fn parse(body: &Value, max_placements: usize) -> Result<Self, Vec<FieldProblem>> {
        let mut p = Problems::default();
        let Some(body) = body.as_object() else {
            p.add("", "the body must be a JSON object");
            return Err(p.0);
        };
        let brand_id = p.text(body, "brandProfileId", "brandProfileId", true, TEXT_MAX);
        let week_start = p.date(body, "weekStart", "weekStart", true).and_then(|d| {
            if d.weekday() == Weekday::Mon {
                Some(d)
            } else {
                p.add(
                    "weekStart",
                    format!("{d} is a {}, not a Monday", d.weekday()),
                );
                None
            }
        });
        let timezone = p
            .text(body, "timezone", "timezone", true, 64)
            .and_then(|tz| match tz.parse::<Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    p.add("timezone", format!("`{tz}` is not an IANA time zone"));
                    None
                }
            });
        let platform_account_ids = p.account_map(body.get("platformAccountIds"));
        let options = p.options(body.get("options"), week_start);
        let seeds = p.seeds(body.get("placements"), week_start, timezone, max_placements);
        match (brand_id, week_start, timezone) {
            (Some(brand_id), Some(week_start), Some(timezone)) if p.0.is_empty() => Ok(Self {
                brand_id,
                week_start,
                timezone,
                platform_account_ids,
                seeds,
                options,
            }),
            _ => Err(p.0),
        }
    }
}

impl Problems {
    fn account_map(&mut self, value: Option<&Value>) -> BTreeMap<SeedPlatform, String> {
        let mut accounts = BTreeMap::new();
        match value {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (platform, account) in map {
                    let field = format!("platformAccountIds.{platform}");
                    let platform = self.platform(&Value::String(platform.clone()), &field);
                    let account = self.text_value(Some(account), &field, true, TEXT_MAX);
                    if let (Some(platform), Some(account)) = (platform, account) {
                        accounts.insert(platform, account);
                    }
                }
            }
            Some(_) => self.add(
                "platformAccountIds",
                "must be an object of platform to account id",
            ),
        }
        accounts
    }

    fn options(&mut self, value: Option<&Value>, week: Option<NaiveDate>) -> Options {
        let mut options = Options::default();
        let object = match value {
            None | Some(Value::Null) => return options,
            Some(Value::Object(object)) => object,
            Some(_) => {
                self.add("options", "must be an object");
                return options;
            }
        };
        options.preset = match self.text(
            object,
            "schedulePreset",
            "options.schedulePreset",
            false,
            40,
        ) {
            Some(preset) if preset == "beta-launch" => Some(Preset::BetaLaunch),
            Some(preset) => {
                self.add(
                    "options.schedulePreset",
                    format!("`{preset}` is not a preset (beta-launch)"),
                );
                None
            }
            None => None,
        };
        options.include_newsletter =
            self.flag(object, "includeNewsletter", "options.includeNewsletter");
        options.overwrite_edited = self.flag(object, "overwriteEdited", "options.overwriteEdited");
        if object.get("learnFromResults").is_some_and(|v| !v.is_null()) {
            options.learn = Some(self.flag(object, "learnFromResults", "options.learnFromResults"));
        }
        options.newsletter_day = self
            .date(object, "newsletterDayId", "options.newsletterDayId", false)
            .and_then(|day| self.in_week(day, week, "options.newsletterDayId"));
        options.guidance_prompt = self.text(
            object,
            "guidancePrompt",
            "options.guidancePrompt",
            false,
            GUIDANCE_MAX,
        );
        options.language = self
            .text(object, "language", "options.language", false, LANGUAGE_MAX)
            .and_then(|language| {
                if language
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    Some(language)
                } else {
                    self.add(
                        "options.language",
                        format!("`{language}` is not a language tag (en-US, es)"),
                    );
                    None
                }
            });
        match object.get("preferredPlatforms") {
            None | Some(Value::Null) => {}
            Some(Value::Array(platforms)) => {
                for (i, platform) in platforms.iter().enumerate() {
                    let field = format!("options.preferredPlatforms[{i}]");
                    if let Some(platform) = self.platform(platform, &field)
                        && !options.preferred_platforms.contains(&platform)
                    {
                        options.preferred_platforms.push(platform);
                    }
                }
            }
            Some(_) => self.add(
                "options.preferredPlatforms",
                "must be an array of platform names",
            ),
        }
        options
    }

    fn seeds(
        &mut self,
        value: Option<&Value>,
        week: Option<NaiveDate>,
        tz: Option<Tz>,
        max: usize,
    ) -> Vec<Seed> {
        let placements = match value {
            None | Some(Value::Null) => {
                self.add("placements", "is required: seed at least one placement");
                return Vec::new();
            }
            Some(Value::Array(placements)) => placements,
            Some(_) => {
                self.add("placements", "must be an array of placements");
                return Vec::new();
            }
        };
        if placements.is_empty() {
            self.add("placements", "no placements: seed at least one");
            return Vec::new();
        }
        if placements.len() > max {
            self.add(
                "placements",
                format!("{} placements; at most {max} per request", placements.len()),
            );
            return Vec::new();
        }
        // First index of each placementId, with the raw value, to tell duplicates apart.
        let mut seen: BTreeMap<String, &Value> = BTreeMap::new();
        let mut conflicting: Vec<String> = Vec::new();
        let mut seeds = Vec::new();
        for (i, raw) in placements.iter().enumerate() {
            if let Some(id) = raw.get("placementId").and_then(Value::as_str) {
                let id = id.to_owned();
                if let Some(first) = seen.get(&id) {
                    if *first != raw && !conflicting.contains(&id) {
                        conflicting.push(id);
                    }
                    continue;
                }
                seen.insert(id, raw);
            }
            if let Some(seed) = self.seed(raw, i, week, tz) {
                seeds.push(seed);
            }
        }
        for id in conflicting {
            self.add(
                "placements",
                format!("placementId `{id}` is given to differing placements; keep one"),
            );
        }
        seeds
    }

    fn seed(
        &mut self,
        raw: &Value,
        i: usize,
        week: Option<NaiveDate>,
        tz: Option<Tz>,
    ) -> Option<Seed> {
        let at = |key: &str| format!("placements[{i}].{key}");
        let Some(object) = raw.as_object() else {
            self.add(format!("placements[{i}]"), "must be an object");
            return None;
        };
        let before = self.0.len();
        let placement_id = self.text(object, "placementId", &at("placementId"), true, TEXT_MAX);
        let trend_id = self.text(object, "trendId", &at("trendId"), true, TEXT_MAX);
        let day = self
            .date(object, "dayId", &at("dayId"), true)
            .and_then(|day| self.in_week(day, week, &at("dayId")));
        let scheduled_at = self
            .text(object, "scheduledAt", &at("scheduledAt"), true, 40)
            .and_then(|text| match DateTime::parse_from_rfc3339(&text) {
                Ok(time) => Some(time.with_timezone(&Utc)),
                Err(_) => {
                    self.add(
                        at("scheduledAt"),
                        format!("`{text}` is not an ISO 8601 timestamp with an offset"),
                    );
                    None
                }
            });
        if let (Some(day), Some(time), Some(tz)) = (day, scheduled_at, tz) {
            let local = time.with_timezone(&tz).date_naive();
            if local != day {
                self.add(
                    at("scheduledAt"),
                    format!(
                        "{} is on {local} in {tz}, not on its dayId {day}",
                        time.to_rfc3339()
                    ),
                );
            }
        }
        let time_label = self.text(object, "timeLabel", &at("timeLabel"), false, TEXT_MAX);
        let platform = match object.get("platform") {
            None | Some(Value::Null) => {
                self.add(at("platform"), "is required");
                None
            }
            Some(platform) => self.platform(platform, &at("platform")),
        };
        let account_id = self.text(object, "accountId", &at("accountId"), false, TEXT_MAX);
        let source = self
            .text(object, "seedSource", &at("seedSource"), false, 20)
            .and_then(|text| {
                SeedSource::parse(&text).or_else(|| {
                    self.add(
                        at("seedSource"),
                        format!("`{text}` is not a source (trend, question, event, manual)"),
                    );
                    None
                })
            });
        let format = self
            .text(object, "desiredFormat", &at("desiredFormat"), false, 20)
            .and_then(|text| {
                Format::parse(&text).or_else(|| {
                    self.add(
                        at("desiredFormat"),
                        format!(
                            "`{text}` is not a format (reel, carousel, story, post, newsletter)"
                        ),
                    );
                    None
                })
            });
        let metadata = match object.get("metadata") {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => Some(Value::Object(map.clone())),
            Some(_) => {
                self.add(at("metadata"), "must be an object");
                None
            }
        };
        let tags = metadata
            .as_ref()
            .and_then(|m| m.get("tags"))
            .and_then(Value::as_array)
            .map(|tags| {
                tags.iter()
                    .filter_map(Value::as_str)
                    .filter(|t| !t.trim().is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if self.0.len() > before {
            return None;
        }
        Some(Seed {
            placement_id: placement_id?,
            trend_id: trend_id?,
            day: day?,
            scheduled_at: scheduled_at?,
            time_label,
            platform: platform?,
            account_id,
            source,
            format,
            tags,
            metadata,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// Seed 003's example request, verbatim.
    pub(crate) fn example() -> Value {
        serde_json::from_str(include_str!("seed_example.json")).unwrap()
    }

    fn fields(body: &Value) -> Vec<String> {
        OrganicSpec::parse(body, 60)
            .unwrap_err()
            .into_iter()
            .map(|p| p.field)
            .collect()
    }

    #[test]
    fn the_seed_s_example_parses() {
        let spec = OrganicSpec::parse(&example(), 60).unwrap();
        assert_eq!(spec.brand_id, "brand_123");
        assert_eq!(spec.timezone, chrono_tz::America::Los_Angeles);
        assert_eq!(spec.seeds.len(), 1);
        assert_eq!(spec.seeds[0].format, Some(Format::Reel));
        assert_eq!(spec.options.preset, Some(Preset::BetaLaunch));
        assert!(spec.options.include_newsletter);
        assert_eq!(
            spec.options.preferred_platforms,
            [SeedPlatform::Instagram, SeedPlatform::Linkedin]
        );
        assert_eq!(
            spec.named_accounts(),
            [
                (SeedPlatform::Instagram, "ig_123".to_owned()),
                (SeedPlatform::Linkedin, "li_456".to_owned())
            ]
        );
    }

    #[test]
    fn every_problem_is_listed_at_once() {
        let mut body = example();
        body.as_object_mut().unwrap().remove("brandProfileId");
        body["weekStart"] = json!("2026-01-27");
        body["timezone"] = json!("Mars/Olympus");
        body["options"]["newsletterDayId"] = json!("2026-03-01");
        let mut second = body["placements"][0].clone();
        second["placementId"] = json!("two");
        second["platform"] = json!("myspace");
        second["trendId"] = json!("  ");
        body["placements"].as_array_mut().unwrap().push(second);
        assert_eq!(
            fields(&body),
            [
                "brandProfileId",
                "weekStart",
                "timezone",
                "placements[1].trendId",
                "placements[1].platform",
            ]
        );
    }

    #[test]
    fn days_and_times_must_fall_in_the_week_and_on_their_day() {
        let mut body = example();
        body["placements"][0]["dayId"] = json!("2026-02-02");
        assert_eq!(fields(&body), ["placements[0].dayId"]);
        let mut body = example();
        // 07:00Z on the 26th is still the 25th in Los Angeles.
        body["placements"][0]["scheduledAt"] = json!("2026-01-26T07:00:00Z");
        assert_eq!(fields(&body), ["placements[0].scheduledAt"]);
        let mut body = example();
        body["options"]["newsletterDayId"] = json!("2026-02-01");
        assert!(OrganicSpec::parse(&body, 60).is_ok());
        body["options"]["newsletterDayId"] = json!("2026-02-02");
        assert_eq!(fields(&body), ["options.newsletterDayId"]);
    }

    #[test]
    fn duplicates_collapse_when_identical_and_are_named_when_not() {
        let mut body = example();
        let seed = body["placements"][0].clone();
        body["placements"]
            .as_array_mut()
            .unwrap()
            .push(seed.clone());
        assert_eq!(OrganicSpec::parse(&body, 60).unwrap().seeds.len(), 1);
        let mut other = seed;
        other["timeLabel"] = json!("10:00 AM");
        body["placements"].as_array_mut().unwrap().push(other);
        let problems = OrganicSpec::parse(&body, 60).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].reason.contains("seed-2026-01-26-trend-101"));
    }

    #[test]
    fn empty_and_oversized_seed_maps_are_refused() {
        let mut body = example();
        body["placements"] = json!([]);
        assert_eq!(fields(&body), ["placements"]);
        let body = example();
        let problems = OrganicSpec::parse(&body, 0).unwrap_err();
        assert!(problems[0].reason.contains("at most 0"));
        assert_eq!(fields(&json!([1])), [""]);
    }
}
