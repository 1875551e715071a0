//! What worked (issue 58): published posts' numbers read back from their platforms
//! (`GET /v1/analytics/posts`, `GET /v1/analytics/channels`, a reading on demand with
//! `POST /v1/analytics/posts/{intentId}/refresh`) and a channel's best times to post
//! (`GET /v1/channels/{id}/best-times`). Owner only; another user's post or channel is
//! 404.

mod dto;

pub use dto::*;

use almanac_shared::{
    domain::analytics::PostMetricsJob,
    events::Event,
    jobs::JobPayload as _,
    store::{
        analytics::{self, Asked, PostRow},
        publish::channels,
        user_tx,
    },
};
use chrono::{DateTime, Days, NaiveDate, Utc};
use poem::web::Data;
use poem_openapi::{
    OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::Tag;
use crate::{
    auth::UserAuth,
    envelope::current_request_id,
    error::{Answer, ApiError, can},
    state::AppState,
    submit::{Made, Queued, Submit},
    text::IsoDate,
};

/// The longest period one report covers.
const MAX_DAYS: u64 = 366;
/// The period when none is given: the last 30 days, today included.
const DEFAULT_DAYS: u64 = 30;
/// The most posts one answer lists (the newest).
const POSTS_MAX: i64 = 1_000;
/// The most posts the channels' totals count, over both periods.
const COUNTED_MAX: i64 = 20_000;

/// The instants of a period of UTC days: from its first day's midnight to the midnight
/// after its last.
fn instants(from: NaiveDate, to: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let midnight = |day: NaiveDate| day.and_time(chrono::NaiveTime::MIN).and_utc();
    (midnight(from), midnight(to + Days::new(1)))
}

#[derive(Default)]
pub struct AnalyticsApi;

#[OpenApi(tag = "Tag::Analytics")]
impl AnalyticsApi {
    /// The caller's posts published from `from` to `to` (UTC days, inclusive; default the
    /// last 30 days, at most 366), newest first (at most 1,000), each with its latest
    /// numbers and its engagement rate; on one channel with `channelId`.
    #[oai(
        path = "/v1/analytics/posts",
        method = "get",
        operation_id = "listPostAnalytics"
    )]
    async fn posts(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        /// The channel's id (`GET /v1/channels`).
        #[oai(name = "channelId")]
        channel_id: Query<Option<Uuid>>,
        /// First UTC day (`YYYY-MM-DD`).
        from: Query<Option<IsoDate>>,
        /// Last UTC day (`YYYY-MM-DD`).
        to: Query<Option<IsoDate>>,
    ) -> Answer<
        Json<PostAnalyticsEnvelope>,
        { can::STORED | can::BAD_REQUEST | can::NOT_FOUND | can::UNPROCESSABLE },
    > {
        let today = Utc::now().date_naive();
        let (from, to) = IsoDate::period(&from.0, &to.0, today, (DEFAULT_DAYS, MAX_DAYS))?;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        if let Some(channel) = channel_id.0
            && channels::find(&mut tx, channel).await?.is_none()
        {
            return Err(ApiError::not_found("channel").into());
        }
        let rows = analytics::posts(&mut tx, channel_id.0, instants(from, to), POSTS_MAX).await?;
        tx.commit().await?;
        Ok(PostAnalyticsEnvelope::of(PostAnalyticsList {
            from,
            to,
            items: rows.into_iter().map(PostAnalytics::from).collect(),
        }))
    }

    /// Each of the caller's channels over `from` to `to` (UTC days, inclusive; default the
    /// last 30 days, at most 366): its posts, their totals and engagement rate, and the
    /// change against the period as long before it.
    #[oai(
        path = "/v1/analytics/channels",
        method = "get",
        operation_id = "listChannelAnalytics"
    )]
    async fn channels(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        /// First UTC day (`YYYY-MM-DD`).
        from: Query<Option<IsoDate>>,
        /// Last UTC day (`YYYY-MM-DD`).
        to: Query<Option<IsoDate>>,
    ) -> Answer<
        Json<ChannelAnalyticsEnvelope>,
        { can::STORED | can::BAD_REQUEST | can::UNPROCESSABLE },
    > {
        let today = Utc::now().date_naive();
        let (from, to) = IsoDate::period(&from.0, &to.0, today, (DEFAULT_DAYS, MAX_DAYS))?;
        let days = Days::new((to - from).num_days() as u64 + 1);
        let (previous_from, previous_to) = (from - days, to - days);
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let listed = channels::list(&mut tx).await?;
        let span = (instants(previous_from, to).0, instants(from, to).1);
        let posts = analytics::posts(&mut tx, None, span, COUNTED_MAX).await?;
        tx.commit().await?;
        let starts = instants(from, to).0;
        let items = listed
            .into_iter()
            .map(|channel| {
                let of = |current: bool| {
                    let posts: Vec<&PostRow> = posts
                        .iter()
                        .filter(|p| p.channel_id == Some(channel.id))
                        .filter(|p| (p.published_at >= starts) == current)
                        .collect();
                    period(&posts)
                };
                let (current, previous) = (of(true), of(false));
                let engagement_rate_change =
                    match (current.engagement_rate, previous.engagement_rate) {
                        (Some(now), Some(before)) if before > 0.0 => Some(now / before - 1.0),
                        _ => None,
                    };
                let posts_change = i64::from(current.posts) - i64::from(previous.posts);
                let described =
                    crate::routes::publishing::Channel::described(channel, &state.platforms);
                let connected = described.status != "disconnected";
                let view = ChannelAnalytics {
                    channel_id: described.id,
                    platform: described.platform,
                    account_id: described.account_id,
                    handle: described.handle,
                    display_name: described.display_name,
                    current,
                    previous,
                    posts_change,
                    engagement_rate_change,
                    analytics_problem: described.analytics_problem,
                };
                Listed { view, connected }
            })
            .filter(|c| c.connected || c.view.current.posts + c.view.previous.posts > 0)
            .map(|c| c.view)
            .collect();
        Ok(ChannelAnalyticsEnvelope::of(ChannelAnalyticsList {
            from,
            to,
            previous_from,
            previous_to,
            items,
        }))
    }

    /// Reads a published post's numbers now (a `manual` reading), in the background: 202
    /// with the job to follow. A reading already waiting for the post is answered instead
    /// of a second. 404 for a post the caller does not have; 409 `NOT_PUBLISHED` for one
    /// that is not published.
    #[oai(
        path = "/v1/analytics/posts/:intentId/refresh",
        method = "post",
        operation_id = "refreshPostAnalytics"
    )]
    async fn refresh(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        /// The publish intent that published the post.
        #[oai(name = "intentId")]
        intent_id: Path<Uuid>,
    ) -> Answer<RefreshStarted, { can::STORED | can::BAD_REQUEST | can::NOT_FOUND | can::CONFLICT }>
    {
        let actor = auth.user().actor();
        let mut making = Submit::unlimited(&state, actor).making_unkeyed().await?;
        let request_id = current_request_id();
        let written = async {
            match analytics::ask_manual(making.tx(), actor, intent_id.0, &request_id).await? {
                Asked::Job(id) => Ok(Made {
                    kept: serde_json::Value::Null,
                    jobs: vec![Queued {
                        kind: PostMetricsJob::KIND,
                        id,
                        first: Event::queued(100),
                    }],
                    answer: id,
                }),
                Asked::Missing => Err(ApiError::not_found("post")),
                Asked::NotPublished(status) => Err(ApiError::conflict(
                    "NOT_PUBLISHED",
                    format!("the post is {status}: only a published post has numbers to read"),
                )),
            }
        }
        .await;
        let job_id = making.commit(written).await?.unkeyed()?;
        Ok(RefreshStarted::Accepted(Json(RefreshAccepted {
            job_id,
            intent_id: intent_id.0,
            reading: "manual".to_owned(),
        })))
    }

    /// A channel's best times to post: all 168 hours of the week in its slot time zone,
    /// best first. From its own posts once at least 10 have a 7-day reading (`source:
    /// "history"`), else its platform's general defaults (`source: "defaults"`).
    #[oai(
        path = "/v1/channels/:id/best-times",
        method = "get",
        operation_id = "getChannelBestTimes"
    )]
    async fn best_times(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<BestTimesEnvelope>, { can::STORED | can::BAD_REQUEST | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let best = analytics::best_times(&mut tx, id.0).await?;
        tx.commit().await?;
        let best = best.ok_or_else(|| ApiError::not_found("channel"))?;
        Ok(BestTimesEnvelope::of(BestTimesView::from(&best)))
    }
}

/// A channel's analytics, and whether it is listed without posts (it is not disconnected).
struct Listed {
    view: ChannelAnalytics,
    connected: bool,
}

/// A channel's period from its posts: each counted by its 7-day reading, else its latest.
fn period(posts: &[&PostRow]) -> ChannelPeriod {
    let mut totals = Totals::default();
    let mut measured = 0u32;
    // The engagements of the posts with a reach base, those the rate counts.
    let mut rated = 0u64;
    for post in posts {
        let Some(reading) = post.measuring() else {
            continue;
        };
        measured += 1;
        let counts = reading.counts();
        let add = |total: &mut u64, n: Option<u64>| *total += n.unwrap_or(0);
        add(&mut totals.views, counts.views);
        add(&mut totals.impressions, counts.impressions);
        add(&mut totals.likes, counts.likes);
        add(&mut totals.comments, counts.comments);
        add(&mut totals.shares, counts.shares);
        add(&mut totals.saves, counts.saves);
        let numbers = reading.measured(post.published_at);
        totals.engagements += numbers.engagements;
        if numbers.reach > 0 {
            rated += numbers.engagements;
            totals.reach_base += numbers.reach;
        }
    }
    ChannelPeriod {
        posts: u32::try_from(posts.len()).unwrap_or(u32::MAX),
        measured,
        engagement_rate: (totals.reach_base > 0).then(|| rated as f64 / totals.reach_base as f64),
        totals,
    }
}
