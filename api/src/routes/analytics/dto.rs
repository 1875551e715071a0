//! The analytics' wire types (issue 58).

use almanac_shared::{
    domain::analytics::{Cell, Reading},
    store::analytics::{BestTimes, PostRow, Source, StoredReading},
};
use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::{Enum, Object, payload::Json};
use serde_json::Value;
use uuid::Uuid;

use crate::{envelope::Envelope, routes::publishing::Weekday};

/// A post's numbers as one reading reported them (null: not reported by its platform).
#[derive(Debug, Clone, Default, Object)]
#[oai(rename_all = "camelCase")]
pub struct Numbers {
    #[oai(nullable)]
    pub views: Option<u64>,
    #[oai(nullable)]
    pub impressions: Option<u64>,
    #[oai(nullable)]
    pub likes: Option<u64>,
    #[oai(nullable)]
    pub comments: Option<u64>,
    /// Shares, or reposts (and quotes) where the platform has them.
    #[oai(nullable)]
    pub shares: Option<u64>,
    #[oai(nullable)]
    pub saves: Option<u64>,
    /// The platform's own reach (accounts reached), where it has one.
    #[oai(nullable)]
    pub reach: Option<u64>,
    /// The channel's followers when read, where the platform gives no views.
    #[oai(nullable)]
    pub followers: Option<u64>,
    /// Likes + comments + shares + saves, those reported.
    pub engagements: u64,
}

impl From<&StoredReading> for Numbers {
    fn from(reading: &StoredReading) -> Self {
        let counts: Reading = reading.counts();
        let n = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok());
        Self {
            views: counts.views,
            impressions: counts.impressions,
            likes: counts.likes,
            comments: counts.comments,
            shares: counts.shares,
            saves: counts.saves,
            reach: n(reading.reach),
            followers: n(reading.followers),
            engagements: counts.engagements(),
        }
    }
}

/// Why a post's numbers could not be read.
#[derive(Debug, Clone, Object)]
pub struct ReadProblem {
    /// `ANALYTICS_SCOPE_MISSING` (connect the channel again to see analytics), or the
    /// platform's refusal.
    pub code: String,
    pub message: String,
}

/// A published post and its numbers.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PostAnalytics {
    /// The publish intent that published it (`POST /v1/analytics/posts/{intentId}/refresh`).
    pub intent_id: Uuid,
    #[oai(nullable)]
    pub entry_id: Option<Uuid>,
    pub calendar_id: Uuid,
    #[oai(nullable)]
    pub channel_id: Option<Uuid>,
    /// Its platform.
    pub channel: String,
    /// The entry's title.
    #[oai(nullable)]
    pub title: Option<String>,
    pub published_at: DateTime<Utc>,
    #[oai(nullable)]
    pub post_url: Option<String>,
    /// Its latest reading that was not empty: `1h`, `24h`, `7d` or `manual`; null before
    /// any.
    #[oai(nullable)]
    pub reading: Option<String>,
    #[oai(nullable)]
    pub read_at: Option<DateTime<Utc>>,
    /// What that reading reported.
    #[oai(nullable)]
    pub metrics: Option<Numbers>,
    /// Engagements over the reach base (views, else impressions, else followers), from
    /// its 7-day reading, else its latest; null without a reach base.
    #[oai(nullable)]
    pub engagement_rate: Option<f64>,
    /// Why its numbers could not be read, the last time they could not.
    #[oai(nullable)]
    pub problem: Option<ReadProblem>,
}

impl From<PostRow> for PostAnalytics {
    fn from(row: PostRow) -> Self {
        let engagement_rate = row
            .measuring()
            .and_then(|r| r.measured(row.published_at).rate());
        let latest = row.latest.as_ref().map(|r| &r.0);
        let problem = row.problem.as_ref().and_then(|p| problem(&p.0));
        Self {
            intent_id: row.intent_id,
            entry_id: row.entry_id,
            calendar_id: row.calendar_id,
            channel_id: row.channel_id,
            channel: row.channel,
            title: row.title,
            published_at: row.published_at,
            post_url: row.post_url,
            reading: latest.map(|r| r.reading.clone()),
            read_at: latest.map(|r| r.read_at),
            metrics: latest.map(Numbers::from),
            engagement_rate,
            problem,
        }
    }
}

fn problem(value: &Value) -> Option<ReadProblem> {
    Some(ReadProblem {
        code: value["code"].as_str()?.to_owned(),
        message: value["message"].as_str().unwrap_or_default().to_owned(),
    })
}

/// The posts published in the period, newest first.
#[derive(Debug, Clone, Object)]
pub struct PostAnalyticsList {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub items: Vec<PostAnalytics>,
}

/// A channel's totals over its posts, each counted by its 7-day reading, else its latest.
#[derive(Debug, Clone, Default, Object)]
#[oai(rename_all = "camelCase")]
pub struct Totals {
    pub views: u64,
    pub impressions: u64,
    pub likes: u64,
    pub comments: u64,
    pub shares: u64,
    pub saves: u64,
    pub engagements: u64,
    /// The sum of the posts' reach bases.
    pub reach_base: u64,
}

/// One channel's period.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ChannelPeriod {
    /// Posts published.
    pub posts: u32,
    /// Of them, those with numbers.
    pub measured: u32,
    pub totals: Totals,
    /// Σ engagements / Σ reach base of its measured posts; null without any.
    #[oai(nullable)]
    pub engagement_rate: Option<f64>,
}

/// A channel's numbers over the period, and the change against the period before it (as
/// long, ending the day before `from`).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ChannelAnalytics {
    pub channel_id: Uuid,
    pub platform: String,
    /// Its id at the platform.
    pub account_id: String,
    #[oai(nullable)]
    pub handle: Option<String>,
    #[oai(nullable)]
    pub display_name: Option<String>,
    pub current: ChannelPeriod,
    pub previous: ChannelPeriod,
    /// Posts now less posts before.
    pub posts_change: i64,
    /// The engagement rate's relative change (0.25: a quarter higher); null when either
    /// period has none.
    #[oai(nullable)]
    pub engagement_rate_change: Option<f64>,
    /// Why its numbers cannot be read ("connect again to see analytics").
    #[oai(nullable)]
    pub analytics_problem: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ChannelAnalyticsList {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub previous_from: NaiveDate,
    pub previous_to: NaiveDate,
    pub items: Vec<ChannelAnalytics>,
}

/// A manual reading asked for.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct RefreshAccepted {
    /// Follow it with `GET /v1/jobs/{jobId}`; a reading already waiting is this one.
    pub job_id: Uuid,
    pub intent_id: Uuid,
    /// `manual`.
    pub reading: String,
}

crate::responses! {
    pub enum RefreshStarted {
        /// Asked: the platform is read in the background.
        202 => Accepted(Json<RefreshAccepted>),
    }
}

/// Where best times come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum BestTimesSource {
    /// The channel's own posts (at least 10 with a 7-day reading).
    History,
    /// The platform's general defaults (`docs/analytics.md`).
    Defaults,
}

/// One hour of the week and its rate.
#[derive(Debug, Clone, Object)]
pub struct BestHour {
    pub weekday: Weekday,
    /// 0 to 23, in `timezone`.
    pub hour: u8,
    /// From history: (Σ engagements + 5·m) / (Σ reach base + 5), m the channel's rate.
    /// From defaults: a score, 1 (the platform's peak), 0.5 (working hours) or 0.1.
    pub rate: f64,
}

impl From<&Cell> for BestHour {
    fn from(cell: &Cell) -> Self {
        Self {
            weekday: Weekday::of(cell.weekday),
            hour: u8::try_from(cell.hour).unwrap_or(0),
            rate: cell.rate,
        }
    }
}

/// A channel's best times to post: all 168 hours of the week, best first.
#[derive(Debug, Clone, Object)]
pub struct BestTimesView {
    pub source: BestTimesSource,
    /// The channel's slot time zone (UTC until set): the hours are its own.
    pub timezone: String,
    /// Its posts with a 7-day reading.
    pub posts: u32,
    pub hours: Vec<BestHour>,
}

impl From<&BestTimes> for BestTimesView {
    fn from(best: &BestTimes) -> Self {
        Self {
            source: match best.source {
                Source::History => BestTimesSource::History,
                Source::Defaults => BestTimesSource::Defaults,
            },
            timezone: best.timezone.name().to_owned(),
            posts: u32::try_from(best.posts).unwrap_or(u32::MAX),
            hours: best.cells.iter().map(BestHour::from).collect(),
        }
    }
}

crate::enveloped!(PostAnalyticsList, ChannelAnalyticsList, BestTimesView);

pub type PostAnalyticsEnvelope = Envelope<PostAnalyticsList>;
pub type ChannelAnalyticsEnvelope = Envelope<ChannelAnalyticsList>;
pub type BestTimesEnvelope = Envelope<BestTimesView>;
