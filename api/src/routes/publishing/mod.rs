//! Publishing (seed 001): `POST /v1/calendars/{id}/publish` and the publish intents.
//! Owner only; another user's calendar or intent is 404.
//!
//! With Postgres unreachable a publish request is kept in Redis and answered 202
//! `{spooled: true, dryRun: true, reason: "STORE_UNAVAILABLE", intents: []}`; a worker
//! replays it once Postgres is back (`almanac_publishing::spool`).

mod channels;
mod dto;
mod evergreen;
mod queue;
mod quota;
mod slots;

pub use channels::ChannelsApi;
pub use dto::*;
pub use evergreen::EvergreenApi;
pub use queue::QueueApi;
pub use quota::QuotaApi;
pub use slots::{SlotsApi, Weekday};

use almanac_publishing::{
    IntentStatus,
    request::{self, PublishRequest, Refusal},
    spool::{self, Spooled},
};
use almanac_shared::store::user_tx;
use almanac_shared::workspaces::Actor;
use almanac_shared::{
    db,
    flags::Flag,
    store::publish::{self as store, Changed, Due, Intent},
};
use chrono::Utc;
use poem::web::Data;
use poem_openapi::{
    OpenApi,
    param::{Header, Path, Query},
    payload::Json,
    types::{ParseFromJSON, ToJSON},
};
use uuid::Uuid;

use super::{Tag, clamp_limit, paginate};
use crate::{
    auth::UserAuth,
    body::StrictJson,
    envelope::current_request_id,
    error::{Answer, ApiError, ApiResult, ErrorEnvelope, UNAVAILABLE_RETRY_SECS, can},
    idempotency,
    state::AppState,
    submit::{Committed, Made, Opened, Queued, Submit},
};

#[derive(Default)]
pub struct PublishApi;

#[OpenApi(tag = "Tag::Publishing")]
impl PublishApi {
    /// Publish a calendar's entries to TikTok and Instagram: a dry run by default. One
    /// intent per entry, on the connected channel of the entry's own platform; an entry
    /// whose platform has no adapter is reported `UNSUPPORTED_CHANNEL`. Repeating a
    /// request returns the unfinished (or published) intents instead of creating others.
    /// A dry run plans every entry it can and lists those on a channel with no usable
    /// account (none connected, or several and none chosen) in `refused`; a real publish
    /// in that state is refused whole, 422, naming the channel.
    #[oai(
        path = "/v1/calendars/:id/publish",
        method = "post",
        operation_id = "publishCalendar"
    )]
    async fn publish(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        body: StrictJson<PublishBody>,
        /// The same key and body within 24 hours answer the first request's intents again
        /// (even when they have moved on); another body with it is 422
        /// `IDEMPOTENCY_KEY_REUSED`.
        #[oai(name = "Idempotency-Key", validator(pattern = "^[!-~]{1,255}$"))]
        idempotency_key: Header<Option<String>>,
    ) -> Answer<
        Published,
        { can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE | can::TOO_MANY_REQUESTS },
    > {
        let user = auth.user().id;
        let actor = auth.user().actor();
        tracing::Span::current().record("calendarId", tracing::field::display(id.0));
        let key = idempotency::from_header(idempotency_key.0, &(id.0, body.0.to_json()))?;
        let request = body.0.request();
        let limit = &state.settings.rate_limits.publish;
        let submit = Submit::new(&state, actor, limit).keyed_after(SCOPE, key.as_ref());
        let mut making = match submit.making().await? {
            Opened::Earlier(earlier) => return Ok(replay(key.as_ref(), earlier)?),
            // Kept to replay; spooled requests count too (the slot stays): an outage is no
            // way around the limit.
            Opened::StoreDown(_) => return Ok(spool_request(&state, actor, id.0, request).await?),
            Opened::Open(making) => making,
        };
        let run = request::Submit {
            platforms: &state.platforms,
            flags: &state.flags,
            cipher: state.cipher.as_ref(),
            pool: &state.pool,
            now: Utc::now(),
            request_id: Some(current_request_id()),
            spool_id: None,
        };
        let outcome = match request::submit(&run, making.tx(), user, id.0, &request).await {
            Ok(outcome) => outcome,
            // Down, not merely busy: only an outage is spooled.
            Err(Refusal::Store(error)) if db::is_down(&state.pool, &error).await => {
                drop(making);
                return Ok(spool_request(&state, actor, id.0, request).await?);
            }
            Err(refusal) => return Err(making.refuse(refused(refusal)).await.into()),
        };
        let answer = answer_of(&outcome);
        let made = Made {
            kept: answer.to_json().unwrap_or_default(),
            jobs: outcome.jobs.iter().map(|job| Queued::of(job, 1)).collect(),
            answer,
        };
        match making.commit(Ok(made)).await? {
            Committed::Done(answer) => Ok(Published::Done(PublishEnvelope::of(answer))),
            Committed::Earlier(earlier) => Ok(replay(key.as_ref(), earlier)?),
        }
    }

    /// The caller's publish intents, newest first.
    #[oai(
        path = "/v1/publish-intents",
        method = "get",
        operation_id = "listPublishIntents"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        /// Only this calendar's.
        #[oai(name = "calendarId")]
        calendar_id: Query<Option<Uuid>>,
        /// Only intents in this status.
        status: Query<Option<IntentStatus>>,
        /// Page size, 1-100 (default 20).
        #[oai(validator(minimum(value = "0"), maximum(value = "4294967295")))]
        limit: Query<Option<u32>>,
        /// `nextCursor` of the previous page.
        cursor: Query<Option<Uuid>>,
    ) -> Answer<Json<IntentPageEnvelope>, { can::STORED | can::BAD_REQUEST }> {
        let limit = clamp_limit(limit.0);
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let rows: Vec<Intent> = store::list(
            &mut tx,
            calendar_id.0,
            status.0,
            cursor.0,
            i64::from(limit) + 1,
        )
        .await?;
        tx.commit().await?;
        let (items, next_cursor) = paginate(rows, limit, |i| i.id);
        Ok(IntentPageEnvelope::of(IntentPage { items, next_cursor }))
    }

    /// One publish intent: its status, the requests it sends and what the platform said.
    #[oai(
        path = "/v1/publish-intents/:id",
        method = "get",
        operation_id = "getPublishIntent"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<IntentEnvelope>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let intent: Option<Intent> = store::get(&mut tx, id.0).await?;
        tx.commit().await?;
        let intent = intent.ok_or_else(|| ApiError::not_found("publish intent"))?;
        Ok(IntentEnvelope::of(intent))
    }

    /// Cancel a scheduled intent before its publish starts (409 once it has).
    #[oai(
        path = "/v1/publish-intents/:id",
        method = "delete",
        operation_id = "cancelPublishIntent"
    )]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<
        Json<IntentEnvelope>,
        { can::BAD_REQUEST | can::STORED | can::NOT_FOUND | can::CONFLICT },
    > {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let changed = store::cancel(&mut tx, id.0).await?;
        tx.commit().await?;
        let intent = changed_or(changed, "INTENT_NOT_CANCELLABLE", |status| {
            format!(
                "a {} intent cannot be cancelled; only a scheduled one can, before it starts",
                status.as_str()
            )
        })?;
        tracing::info!(intentId = %intent.id, calendarId = %intent.calendar_id, channel = %intent.channel, status = "cancelled", "publish intent cancelled");
        Ok(IntentEnvelope::of(intent))
    }

    /// Publish a `failed` or `unconfirmed` intent again, now: only after checking the
    /// account (an unconfirmed one may be there already).
    #[oai(
        path = "/v1/publish-intents/:id/retry",
        method = "post",
        operation_id = "retryPublishIntent"
    )]
    async fn retry(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<
        Json<IntentEnvelope>,
        { can::BAD_REQUEST | can::STORED | can::NOT_FOUND | can::CONFLICT },
    > {
        let user = auth.user().id;
        let actor = auth.user().actor();
        let mut making = Submit::unlimited(&state, actor).making_unkeyed().await?;
        let retried = async {
            let changed = match store::retry(making.tx(), id.0).await {
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    return Err(ApiError::conflict(
                        "INTENT_DUPLICATE",
                        "the entry already has an unfinished or published intent on this channel",
                    ));
                }
                other => other?,
            };
            let intent = changed_or(changed, "INTENT_NOT_RETRYABLE", |status| match status {
                // Failed before it named an entry and a connected channel, or a dry run:
                // there is nothing to send again.
                IntentStatus::Failed | IntentStatus::Unconfirmed => format!(
                    "this {} intent has no entry and channel to send again (a dry run, or one \
                     refused before a channel was chosen); publish the entry again instead",
                    status.as_str()
                ),
                _ => format!(
                    "a {} intent cannot be retried; only failed and unconfirmed ones can",
                    status.as_str()
                ),
            })?;
            let jobs = match state.flags.enabled(Flag::PublishService, user) {
                true => store::dispatch(making.tx(), Due::Ids(&[intent.id]), 1).await?,
                false => Vec::new(),
            };
            Ok(Made {
                kept: serde_json::Value::Null,
                jobs: jobs.iter().map(|job| Queued::of(job, 1)).collect(),
                answer: intent,
            })
        }
        .await;
        let intent = making.commit(retried).await?.unkeyed()?;
        tracing::info!(intentId = %intent.id, calendarId = %intent.calendar_id, channel = %intent.channel, status = "scheduled", "publish intent retried by its owner");
        Ok(IntentEnvelope::of(intent))
    }
}

fn changed_or(
    changed: Changed,
    code: &str,
    message: impl Fn(IntentStatus) -> String,
) -> ApiResult<Intent> {
    match changed {
        Changed::Done(intent) => Ok(*intent),
        Changed::Missing => Err(ApiError::not_found("publish intent")),
        Changed::Refused(status) => Err(ApiError::conflict(code, message(status))),
    }
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::NotFound(what) => ApiError::not_found(what),
        Refusal::Unprocessable {
            code,
            message,
            details,
        } => ApiError::Unprocessable(ErrorEnvelope::new(code, message, details)),
        Refusal::Store(error) => error.into(),
    }
}

/// Keeps the request in Redis for the replay (503 if Redis is down too).
async fn spool_request(
    state: &AppState,
    actor: Actor,
    calendar_id: Uuid,
    request: PublishRequest,
) -> ApiResult<Published> {
    let spooled = Spooled {
        id: Uuid::now_v7(),
        user: actor.user,
        workspace: Some(actor.workspace),
        calendar_id,
        request,
        request_id: current_request_id(),
        received_at: Utc::now(),
    };
    let pushed = spool::push(&state.redis, &state.settings, &spooled).await?;
    let full = match pushed {
        spool::Pushed::Spooled => None,
        spool::Pushed::SpoolFull | spool::Pushed::SpoolBytesFull => {
            Some("the spool of publish requests waiting for the database is full")
        }
        spool::Pushed::UserShareFull => {
            Some("you have as many publish requests waiting for the database as may wait")
        }
    };
    if let (Some(why), Some(reason)) = (full, pushed.refused_by()) {
        metrics::counter!("publish_requests_spool_refused_total", "reason" => reason).increment(1);
        tracing::warn!(requestId = %spooled.request_id, userId = %actor.user, calendarId = %calendar_id,
            status = "refused", "Postgres unreachable and the publish spool is full: request refused");
        return Err(ApiError::Unavailable(
            ErrorEnvelope::new(
                "STORE_UNAVAILABLE",
                format!(
                    "the database is unreachable and {why}: nothing was kept; send the request again later"
                ),
                None,
            ),
            UNAVAILABLE_RETRY_SECS,
        ));
    }
    metrics::counter!("publish_requests_spooled_total").increment(1);
    tracing::warn!(spool_id = %spooled.id, requestId = %spooled.request_id, userId = %actor.user, calendarId = %calendar_id,
        status = "spooled", "Postgres unreachable: publish request spooled for replay");
    Ok(Published::Spooled(PublishEnvelope::of(PublishResult {
        dry_run: true,
        reason: Some("STORE_UNAVAILABLE".into()),
        spooled: true,
        intents: Vec::new(),
        refused: Vec::new(),
    })))
}

/// `Idempotency-Key`'s endpoint name.
const SCOPE: &str = "publish";

/// What a publish request answers.
fn answer_of(outcome: &request::Outcome) -> PublishResult {
    PublishResult {
        dry_run: outcome.dry_run,
        reason: outcome.reason.map(str::to_owned),
        spooled: false,
        intents: outcome.intents.clone(),
        refused: outcome
            .refused
            .iter()
            .map(|r| RefusedEntry {
                entry_id: r.entry_id,
                channel: r.channel.clone(),
                code: r.code.to_owned(),
            })
            .collect(),
    }
}

/// The first request's answer again, for a retry with its key and body.
fn replay(key: Option<&idempotency::Key>, earlier: idempotency::Earlier) -> ApiResult<Published> {
    let key = key.ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!(
            "a request without a key met an earlier answer"
        ))
    })?;
    let first: serde_json::Value = idempotency::replay(key, earlier)?;
    let answer = PublishResult::parse_from_json(Some(first)).map_err(|e| {
        ApiError::internal(anyhow::anyhow!("a stored publish answer: {}", e.message()))
    })?;
    metrics::counter!("idempotent_replays_total", "scope" => SCOPE).increment(1);
    Ok(Published::Done(PublishEnvelope::of(answer)))
}
