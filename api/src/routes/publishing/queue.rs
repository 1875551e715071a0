//! The posting queue (issue 57, `docs/queue.md`): `POST /v1/queue` places entries in their
//! channels' next free slots, `GET /v1/queue` lists a channel's queue in order; a channel's
//! queue is packed again from now (`pack`), shuffled (`shuffle`), two of its posts swapped
//! (`swap`), posts taken out (`remove`), and it is paused and resumed (issue 84). With
//! publishing off for the caller every action is a dry run.

use almanac_publishing::{
    Mode,
    posting_queue::{self, Acted, NotBefore, Outcome, Placed, Queue, QueueRequest},
};
use almanac_shared::{
    flags::Flag,
    store::{publish::queue as store, user_tx},
};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{Enum, Object, OpenApi, param::Query, payload::Json};
use uuid::Uuid;

use super::{Tag, refused};
use crate::{
    auth::UserAuth,
    body::StrictJson,
    envelope::{Envelope, current_request_id},
    error::{Answer, ApiError, can},
    state::AppState,
};

/// Entries to queue.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct QueueBody {
    pub calendar_id: Uuid,
    /// The calendar's entries, in the order they take the slots (1 to 100).
    #[oai(validator(min_items = 1, max_items = 100))]
    pub entry_ids: Vec<Uuid>,
    /// Channel ids choosing among several accounts of one platform, as a publish request's
    /// `channels` do.
    #[oai(validator(max_items = 100))]
    pub channels: Option<Vec<Uuid>>,
    /// `publish` (the default) posts; `draft` sends each to the account's drafts where the
    /// platform has them (TikTok's inbox, which holds at most 5 waiting in 24 hours).
    pub mode: Option<Mode>,
    /// `planned` (the default): an entry takes no slot before its planned day (in its
    /// calendar's zone); `now`: the next free slot, whatever day it was planned for.
    pub not_before: Option<NotBeforeDto>,
}

/// The earliest slot a queued entry may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "QueueNotBefore", rename_all = "lowercase")]
pub enum NotBeforeDto {
    Planned,
    Now,
}

/// A channel whose queue to act on.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ChannelBody {
    pub channel_id: Uuid,
}

/// A channel's queue to shuffle.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct QueueShuffleBody {
    pub channel_id: Uuid,
    /// The same seed gives the same order (a random one without).
    #[oai(validator(minimum(value = "0")))]
    pub seed: Option<i64>,
}

/// Two of a channel's queued posts, by their entries.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct QueueSwapBody {
    pub channel_id: Uuid,
    #[oai(validator(min_items = 2, max_items = 2))]
    pub entry_ids: Vec<Uuid>,
}

/// Posts to take out of a channel's queue, by their entries.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct QueueRemoveBody {
    pub channel_id: Uuid,
    #[oai(validator(min_items = 1, max_items = 100))]
    pub entry_ids: Vec<Uuid>,
}

/// An entry in its slot.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct QueuedEntry {
    pub entry_id: Uuid,
    pub channel_id: Uuid,
    /// The slot's instant: the entry's new `scheduledAt`.
    pub publish_at: DateTime<Utc>,
}

/// An entry the queue could not place.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UnqueuedEntry {
    pub entry_id: Uuid,
    /// `CHANNEL_AMBIGUOUS`, `CHANNEL_NOT_CONNECTED`, `CHANNEL_AUTH_INVALID`,
    /// `QUEUE_NO_SLOTS`, `QUOTA_FULL`, `ALREADY_PUBLISHED`, `UNSUPPORTED_CHANNEL`, the
    /// platform's rule the entry breaks (`TEXT_TOO_LONG`...), or, for an action on the
    /// queue, `NOT_QUEUED` (not among the channel's posts to come).
    pub code: String,
    pub message: String,
}

/// What `POST /v1/queue` did, or, with publishing off for the caller, would do.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct QueueResult {
    /// True when nothing was stored: publishing is off for the caller
    /// (`PUBLISH_SERVICE_ENABLED`), and `queued` says where the entries would go.
    pub dry_run: bool,
    /// Why it was a dry run: `PUBLISH_DISABLED`.
    #[oai(skip_serializing_if_is_none)]
    pub reason: Option<String>,
    pub queued: Vec<QueuedEntry>,
    pub refused: Vec<UnqueuedEntry>,
}

/// One queued entry, in its channel's order.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct QueueItem {
    pub entry_id: Uuid,
    pub calendar_id: Uuid,
    pub channel_id: Uuid,
    /// The platform.
    pub channel: String,
    pub publish_at: DateTime<Utc>,
    /// The scheduled publish intent.
    pub intent_id: Uuid,
    /// The evergreen collection that queued it again.
    pub evergreen_id: Option<Uuid>,
    /// The entry's title, caption and media (ids, in order), as its card shows them.
    pub title: String,
    pub caption: String,
    pub media_ids: Vec<Uuid>,
    /// Its review: `not_requested`, `in_review`, `changes_requested`, `approved` or
    /// `expired` (an entry needing approval is not sent without it).
    pub review_status: String,
    /// What stands in its way when it is due: a platform quota its slot would exceed (or
    /// the dispatcher found full), in words, and when a place frees. It then waits for
    /// that place rather than failing.
    pub problem: Option<QueueProblem>,
}

/// A quota in a queued entry's way.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct QueueProblem {
    /// `QUOTA_FULL`, or `QUOTA_UNREADABLE` when the platform did not say.
    pub code: String,
    /// Which quota, in words.
    pub message: String,
    /// When a place frees, where known.
    pub frees_at: Option<DateTime<Utc>>,
}

/// A channel's queue (every channel's without `channelId`), in order.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct QueueList {
    pub items: Vec<QueueItem>,
    /// The channels (of those listed) whose queue is paused: nothing of theirs is sent
    /// until it is resumed.
    pub paused_channel_ids: Vec<Uuid>,
}

crate::enveloped!(QueueResult, QueueList);

pub type QueueResultEnvelope = Envelope<QueueResult>;
pub type QueueListEnvelope = Envelope<QueueList>;

#[derive(Default)]
pub struct QueueApi;

#[OpenApi(tag = "Tag::Publishing")]
impl QueueApi {
    /// Queue entries: each takes the first free slot of its channel after the channel's
    /// last queued entry, at least `QUEUE_MIN_GAP_MINUTES` after it, and moves there; its
    /// publish is scheduled for that time. Entries that cannot be placed are listed in
    /// `refused` with the reason; the others are queued. With publishing off for the caller
    /// the answer is a dry run (`dryRun: true`, `reason: "PUBLISH_DISABLED"`): where each
    /// entry would go, and nothing stored.
    #[oai(path = "/v1/queue", method = "post", operation_id = "queueEntries")]
    async fn add(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        body: StrictJson<QueueBody>,
    ) -> Answer<
        Json<QueueResultEnvelope>,
        { can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE },
    > {
        let user = auth.user().id;
        let actor = auth.user().actor();
        let body = body.0;
        let request = QueueRequest {
            calendar_id: body.calendar_id,
            entry_ids: body.entry_ids,
            channels: body.channels.unwrap_or_default(),
            mode: body.mode.unwrap_or_default(),
            not_before: match body.not_before {
                Some(NotBeforeDto::Now) => NotBefore::Now,
                Some(NotBeforeDto::Planned) | None => NotBefore::Planned,
            },
        };
        let run = runner(&state);
        let mut tx = user_tx(&state.pool, actor).await?;
        let outcome = posting_queue::add(&run, &mut tx, user, &request)
            .await
            .map_err(refused)?;
        let dry_run = finish(&state, user, tx).await?;
        Ok(QueueResultEnvelope::of(result(outcome, dry_run)))
    }

    /// A channel's queue (every channel's without `channelId`), in the order it publishes.
    #[oai(path = "/v1/queue", method = "get", operation_id = "listQueue")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        /// Only this channel's.
        #[oai(name = "channelId")]
        channel_id: Query<Option<Uuid>>,
    ) -> Answer<Json<QueueListEnvelope>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        if let Some(channel) = channel_id.0
            && almanac_shared::store::publish::channels::find(&mut tx, channel)
                .await?
                .is_none()
        {
            return Err(ApiError::not_found("channel").into());
        }
        let rows = store::list(&mut tx, channel_id.0).await?;
        let paused_channel_ids = almanac_shared::store::publish::channels::paused_queues(&mut tx)
            .await?
            .into_iter()
            .filter(|id| channel_id.0.is_none_or(|asked| asked == *id))
            .collect();
        tx.commit().await?;
        let problems = posting_queue::problems(&runner(&state), &rows).await?;
        let items = rows
            .into_iter()
            .zip(problems)
            .map(|(row, problem)| QueueItem {
                entry_id: row.entry_id,
                calendar_id: row.calendar_id,
                channel_id: row.channel_id,
                channel: row.channel,
                publish_at: row.publish_at,
                intent_id: row.intent_id,
                evergreen_id: row.evergreen_id,
                title: row.title,
                caption: row.caption,
                media_ids: row.media_ids,
                review_status: row.review_status,
                problem: problem.map(|p| QueueProblem {
                    code: p.code,
                    message: p.message,
                    frees_at: p.frees_at,
                }),
            })
            .collect();
        Ok(QueueListEnvelope::of(QueueList {
            items,
            paused_channel_ids,
        }))
    }

    /// Pack a channel's queue again from now, in its order: the slots freed by removed or
    /// moved entries are filled, and the entries move with their publishes.
    #[oai(path = "/v1/queue/pack", method = "post", operation_id = "packQueue")]
    async fn pack(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        body: StrictJson<ChannelBody>,
    ) -> Answer<Json<QueueResultEnvelope>, { can::STORED | can::BODY | can::NOT_FOUND }> {
        let channel = body.0.channel_id;
        acting(&state, &auth, |run, tx| {
            Box::pin(async move {
                let placed = posting_queue::pack(run, tx, channel).await?;
                Ok(placed.map(|queue| Acted {
                    queue,
                    refused: Vec::new(),
                }))
            })
        })
        .await
    }

    /// Put a channel's queued posts in a random order, each taking the time of the one it
    /// replaces (the times, and so its slots and quotas, stay); `seed` repeats an order. A
    /// queue of two or more always changes. `queued` is the queue after, in order.
    #[oai(
        path = "/v1/queue/shuffle",
        method = "post",
        operation_id = "shuffleQueue"
    )]
    async fn shuffle(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        body: StrictJson<QueueShuffleBody>,
    ) -> Answer<Json<QueueResultEnvelope>, { can::STORED | can::BODY | can::NOT_FOUND }> {
        let seed = body
            .0
            .seed
            .map_or_else(rand::random::<u64>, |seed| seed as u64);
        let channel = body.0.channel_id;
        acting(&state, &auth, |run, tx| {
            Box::pin(posting_queue::shuffle(run, tx, channel, seed))
        })
        .await
    }

    /// Exchange the times of two of a channel's queued posts (by their entries): what a
    /// drag in the queue does. When one is not in the queue nothing moves, and it is listed
    /// in `refused` (`NOT_QUEUED`). `queued` is the queue after, in order.
    #[oai(path = "/v1/queue/swap", method = "post", operation_id = "swapQueue")]
    async fn swap(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        body: StrictJson<QueueSwapBody>,
    ) -> Answer<Json<QueueResultEnvelope>, { can::STORED | can::BODY | can::NOT_FOUND }> {
        let channel = body.0.channel_id;
        let pair = [body.0.entry_ids[0], body.0.entry_ids[1]];
        acting(&state, &auth, |run, tx| {
            Box::pin(posting_queue::swap(run, tx, channel, pair))
        })
        .await
    }

    /// Take posts out of a channel's queue (by their entries): their publishes are
    /// cancelled, the entries stay on their calendars. An entry not in the queue is listed
    /// in `refused` (`NOT_QUEUED`). `queued` is the queue after, in order.
    #[oai(
        path = "/v1/queue/remove",
        method = "post",
        operation_id = "removeFromQueue"
    )]
    async fn remove(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        body: StrictJson<QueueRemoveBody>,
    ) -> Answer<Json<QueueResultEnvelope>, { can::STORED | can::BODY | can::NOT_FOUND }> {
        let channel = body.0.channel_id;
        let entries = body.0.entry_ids;
        acting(&state, &auth, |run, tx| {
            Box::pin(async move { posting_queue::remove(run, tx, channel, &entries).await })
        })
        .await
    }

    /// Pause a channel's queue: none of its queued posts is sent until it is resumed.
    #[oai(
        path = "/v1/queue/pause",
        method = "post",
        operation_id = "pauseChannelQueue"
    )]
    async fn pause(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        body: StrictJson<ChannelBody>,
    ) -> Answer<Json<QueueResultEnvelope>, { can::STORED | can::BODY | can::NOT_FOUND }> {
        let channel = body.0.channel_id;
        acting(&state, &auth, |_, tx| {
            Box::pin(posting_queue::pause(tx, channel))
        })
        .await
    }

    /// Resume a channel's queue: the posts whose time passed while it was paused take the
    /// first free slots from now, the others keep theirs.
    #[oai(
        path = "/v1/queue/resume",
        method = "post",
        operation_id = "resumeChannelQueue"
    )]
    async fn resume(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        body: StrictJson<ChannelBody>,
    ) -> Answer<Json<QueueResultEnvelope>, { can::STORED | can::BODY | can::NOT_FOUND }> {
        let channel = body.0.channel_id;
        acting(&state, &auth, |run, tx| {
            Box::pin(posting_queue::resume(run, tx, channel))
        })
        .await
    }
}

/// A queue action of `act` in the caller's transaction: its answer (the channel's queue
/// after it), committed, or a dry run with publishing off for the caller; 404 when the
/// channel is not the caller's.
async fn acting<const CAN: u32>(
    state: &AppState,
    auth: &UserAuth,
    act: impl for<'c> FnOnce(
        &'c Queue<'c>,
        &'c mut sqlx::PgConnection,
    ) -> futures::future::BoxFuture<
        'c,
        Result<Option<Acted>, almanac_publishing::request::Refusal>,
    >,
) -> Answer<Json<QueueResultEnvelope>, CAN> {
    let run = runner(state);
    let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
    let acted = act(&run, &mut tx)
        .await
        .map_err(refused)?
        .ok_or_else(|| ApiError::not_found("channel"))?;
    let dry_run = finish(state, auth.user().id, tx).await?;
    let outcome = Outcome {
        queued: acted.queue,
        refused: acted.refused,
    };
    Ok(QueueResultEnvelope::of(result(outcome, dry_run)))
}

/// Commits the queue's changes in `tx`, or, with publishing off for `user`, rolls them
/// back: the answer is then a dry run, and nothing is stored that would publish when the
/// flag comes back. True for a dry run.
pub(super) async fn finish(
    state: &AppState,
    user: Uuid,
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
) -> Result<bool, ApiError> {
    if state.flags.enabled(Flag::PublishService, user) {
        tx.commit().await?;
        Ok(false)
    } else {
        tx.rollback().await?;
        Ok(true)
    }
}

pub(super) fn runner(state: &AppState) -> Queue<'_> {
    Queue {
        platforms: &state.platforms,
        pool: &state.pool,
        now: Utc::now(),
        gap: state.settings.publish.queue_min_gap,
        request_id: Some(current_request_id()),
    }
}

fn result(outcome: Outcome, dry_run: bool) -> QueueResult {
    QueueResult {
        dry_run,
        reason: dry_run.then(|| "PUBLISH_DISABLED".to_owned()),
        queued: outcome.queued.into_iter().map(queued_entry).collect(),
        refused: outcome
            .refused
            .into_iter()
            .map(|r| UnqueuedEntry {
                entry_id: r.entry_id,
                code: r.code,
                message: r.message,
            })
            .collect(),
    }
}

fn queued_entry(placed: Placed) -> QueuedEntry {
    QueuedEntry {
        entry_id: placed.entry_id,
        channel_id: placed.channel_id,
        publish_at: placed.publish_at,
    }
}
