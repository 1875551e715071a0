//! The operator console's endpoints (issue 54, `docs/operations.md` "The console"): the
//! fleet's jobs searched beyond ids, one job with its events, bulk retries and cancels of
//! everything a filter matches, paused queues, and the statistics, once or every second.

use std::time::Duration;

use almanac_shared::{
    jobs::{self, JobKind, JobStatus, Lane},
    store::{
        console::{
            self, BATCH, JobFilter,
            bulk::{self, Action, Batch, Tally},
            queues, stats,
        },
        jobs as ledger,
    },
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use poem::{IntoResponse, Response, web::Data};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
    payload::Json,
    registry::{MetaResponses, Registry},
};
use uuid::Uuid;

use super::{ADMIN, ADMIN_STORED, AdminAuth, Tag, console_dto::*};
use crate::{
    body::StrictJson,
    error::{Answer, ApiError, ApiResult, can},
    relay::Framing,
    state::AppState,
};

/// Final events of cancelled jobs published at once.
const FINAL_EVENTS_AT_ONCE: usize = 64;

/// The most events a job's page shows.
const EVENTS_SHOWN: usize = 500;

/// Wake-ups pushed per kind and batch of retried jobs (a delivery is a wake-up for its
/// kind: the slot it takes claims jobs until none is ready).
const WAKE_UPS_PER_BATCH: usize = 100;

#[derive(Default)]
pub struct ConsoleApi;

#[OpenApi(tag = "Tag::Admin")]
impl ConsoleApi {
    /// Every tenant's jobs, newest first: filtered by kind, status, lane, workspace, error
    /// code and creation time; `q` matches a job's id, a workspace's id or the id of the
    /// request that created the job.
    #[oai(path = "/admin/jobs", method = "get", operation_id = "consoleJobs")]
    #[allow(clippy::too_many_arguments)]
    async fn jobs(
        &self,
        state: Data<&AppState>,
        _auth: AdminAuth,
        kind: Query<Option<JobKind>>,
        status: Query<Option<JobStatus>>,
        lane: Query<Option<Lane>>,
        /// A workspace's jobs (a person's personal workspace has their id).
        workspace: Query<Option<Uuid>>,
        #[oai(name = "errorCode", validator(pattern = r"^[A-Z][A-Z0-9_]{0,63}$"))]
        error_code: Query<Option<String>>,
        /// Created at or after.
        from: Query<Option<DateTime<Utc>>>,
        /// Created before.
        to: Query<Option<DateTime<Utc>>>,
        /// A job's id, a workspace's id or a request's id.
        #[oai(validator(min_length = 1, max_length = 200))]
        q: Query<Option<String>>,
        /// `nextCursor` of the previous page.
        cursor: Query<Option<Uuid>>,
        /// Page size, 1-100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
    ) -> Answer<Json<ConsoleJobPageEnvelope>, { ADMIN_STORED | can::BAD_REQUEST }> {
        let filter = JobFilter {
            kind: kind.0,
            status: status.0,
            lane: lane.0,
            workspace: workspace.0,
            error_code: error_code.0,
            from: from.0,
            to: to.0,
            q: q.0,
        };
        let limit = super::super::clamp_limit(limit.0);
        let lines = console::list(&state.pool, &filter, cursor.0, limit as usize + 1).await?;
        let (items, next_cursor) = super::super::paginate(lines, limit, |line| line.id);
        Ok(ConsoleJobPageEnvelope::of(ConsoleJobPage {
            items: items.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }

    /// One job of any tenant: its attempts, last error, events (or whether they expired,
    /// `EVENTS_RETENTION_SECS` after the last) and the domain row it works on.
    #[oai(path = "/admin/jobs/:id", method = "get", operation_id = "consoleJob")]
    async fn job(
        &self,
        state: Data<&AppState>,
        _auth: AdminAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<ConsoleJobDetailEnvelope>, { ADMIN_STORED | can::BAD_REQUEST | can::NOT_FOUND }>
    {
        let detail = console::job(&state.pool, id.0)
            .await?
            .ok_or_else(|| ApiError::not_found("job"))?;
        let history = almanac_shared::events::history(
            &state.events_redis,
            &state.settings,
            id.0,
            0,
            EVENTS_SHOWN,
        )
        .await
        .map_err(|_| ApiError::unavailable("redis"))?;
        let events: Vec<ConsoleEvent> = history
            .events
            .into_iter()
            .map(|event| ConsoleEvent {
                seq: event.seq,
                kind: event.kind.into(),
                data: serde_json::from_str(&event.data).unwrap_or_default(),
            })
            .collect();
        let retention = chrono::Duration::from_std(state.settings.events.retention)
            .unwrap_or(chrono::Duration::MAX);
        let expired = events.is_empty()
            && detail
                .line
                .finished_at
                .is_some_and(|at| Utc::now() - at > retention);
        Ok(ConsoleJobDetailEnvelope::of(ConsoleJobDetail::new(
            detail, events, expired,
        )))
    }

    /// Starts again every matching job that ended `failed`, `timeout` or `cancelled`, of
    /// the kinds `generation`, `synthesis`, `organic`, `webhook` and `email` (not an email
    /// whose delivery is `unknown`): back to `pending` with a fresh attempt budget, in the
    /// `bulk` lane, its domain row following. `publish` jobs are retried by their owners
    /// (`POST /v1/publish-intents/{id}/retry`), `calendar` runs continued by theirs. In
    /// statements of at most 1,000 jobs; `dryRun` counts without changing anything.
    #[oai(
        path = "/admin/jobs/retry",
        method = "post",
        operation_id = "consoleRetry"
    )]
    async fn retry(
        &self,
        state: Data<&AppState>,
        auth: AdminAuth,
        body: StrictJson<BulkRequest>,
    ) -> Answer<Json<RetryOutcomeEnvelope>, { ADMIN_STORED | can::BODY | can::UNPROCESSABLE }> {
        let body = body.0;
        let tally = act(&state, auth, &body, Action::Retry).await?;
        Ok(RetryOutcomeEnvelope::of(RetryOutcome {
            matched: tally.matched,
            retried: tally.acted,
            skipped: tally.skipped.into_iter().collect(),
            dry_run: body.dry_run,
        }))
    }

    /// Cancels every matching job: a pending one ends `cancelled` at once, a running one is
    /// asked to stop (within a second); ended ones are skipped. In statements of at most
    /// 1,000 jobs; `dryRun` counts without changing anything.
    #[oai(
        path = "/admin/jobs/cancel",
        method = "post",
        operation_id = "consoleCancel"
    )]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        auth: AdminAuth,
        body: StrictJson<BulkRequest>,
    ) -> Answer<Json<CancelOutcomeEnvelope>, { ADMIN_STORED | can::BODY | can::UNPROCESSABLE }>
    {
        let body = body.0;
        let tally = act(&state, auth, &body, Action::Cancel).await?;
        Ok(CancelOutcomeEnvelope::of(CancelOutcome {
            matched: tally.matched,
            cancelled: tally.acted,
            skipped: tally.skipped.into_iter().collect(),
            dry_run: body.dry_run,
        }))
    }

    /// Pauses a queue fleet-wide: submissions of the kind are accepted as usual (202 or
    /// their stream) and wait; no worker claims them until it is resumed. Jobs running go
    /// on. Pausing `calendar` makes new runs end `timeout` at their deadline.
    #[oai(
        path = "/admin/queues/:kind/pause",
        method = "post",
        operation_id = "pauseQueue"
    )]
    async fn pause(
        &self,
        state: Data<&AppState>,
        auth: AdminAuth,
        /// A job kind: `generation`, `calendar`, `organic`, `synthesis`, `email`, `publish`
        /// or `webhook`.
        kind: Path<String>,
    ) -> Answer<Json<QueueStateEnvelope>, { ADMIN_STORED | can::BAD_REQUEST | can::NOT_FOUND }>
    {
        let kind = queue(&kind)?;
        let actor = auth.actor().as_str();
        if queues::pause(&state.pool, kind, actor).await? {
            tracing::warn!(queue = %kind, actor, "queue paused");
            record(
                &state,
                actor,
                "pause",
                &serde_json::json!({ "kind": kind }),
                &Tally::default(),
            )
            .await?;
        }
        state.flags.reload(&state.pool).await?;
        Ok(QueueStateEnvelope::of(QueueState { kind, paused: true }))
    }

    /// Resumes a paused queue: its waiting jobs are claimed again at once.
    #[oai(
        path = "/admin/queues/:kind/resume",
        method = "post",
        operation_id = "resumeQueue"
    )]
    async fn resume(
        &self,
        state: Data<&AppState>,
        auth: AdminAuth,
        /// A job kind.
        kind: Path<String>,
    ) -> Answer<Json<QueueStateEnvelope>, { ADMIN_STORED | can::BAD_REQUEST | can::NOT_FOUND }>
    {
        let kind = queue(&kind)?;
        let actor = auth.actor().as_str();
        let (resumed, ready) = queues::resume(&state.pool, kind, WAKE_UPS_PER_BATCH * 10).await?;
        if resumed {
            tracing::warn!(queue = %kind, actor, waiting = ready.len(), "queue resumed");
            record(
                &state,
                actor,
                "resume",
                &serde_json::json!({ "kind": kind }),
                &Tally::default(),
            )
            .await?;
        }
        for job in ready {
            state.queue.push_or_log(kind, job, None).await;
        }
        state.flags.reload(&state.pool).await?;
        Ok(QueueStateEnvelope::of(QueueState {
            kind,
            paused: false,
        }))
    }

    /// The fleet over the last `window` (default `1h`): jobs by kind and status (unfinished
    /// ones now, finished ones within the window), jobs finished and failed per minute by
    /// kind, p50/p95 wait and run times by kind and lane, each lane's load, and the 20
    /// workspaces with the most jobs waiting and running, with their share.
    #[oai(path = "/admin/stats", method = "get", operation_id = "consoleStats")]
    async fn stats(
        &self,
        state: Data<&AppState>,
        _auth: AdminAuth,
        window: Query<Option<StatsWindow>>,
    ) -> Answer<Json<ConsoleStatsEnvelope>, { ADMIN_STORED | can::BAD_REQUEST }> {
        let window = window.0.unwrap_or_default();
        Ok(ConsoleStatsEnvelope::of(read_stats(&state, window).await?))
    }

    /// What needs an eye besides the jobs: the feature flags as this process applies them,
    /// the webhook endpoints Almanac disabled and the channels whose owners must connect
    /// them again (or soon), the 20 newest of each with their totals.
    #[oai(
        path = "/admin/attention",
        method = "get",
        operation_id = "consoleAttention"
    )]
    async fn attention(
        &self,
        state: Data<&AppState>,
        _auth: AdminAuth,
    ) -> Answer<Json<AttentionEnvelope>, { ADMIN_STORED }> {
        let found = console::attention::attention(&state.pool).await?;
        let flags = state.flags.views().into_iter().map(Into::into).collect();
        Ok(AttentionEnvelope::of(Attention::new(flags, found)))
    }

    /// An event stream (`text/event-stream`): every second, a `frame` with the statistics
    /// of `window` (default `15m`) and what changed since the previous frame, by kind and
    /// status; never a payload.
    #[oai(path = "/admin/live", method = "get", operation_id = "consoleLive")]
    async fn live(
        &self,
        state: Data<&AppState>,
        _auth: AdminAuth,
        window: Query<Option<StatsWindow>>,
    ) -> Answer<LiveStream, { ADMIN | can::BAD_REQUEST }> {
        let window = window.0.unwrap_or(StatsWindow::Quarter);
        let state = state.0.clone();
        let frames = futures::stream::unfold((None, true), move |(since, first)| {
            let state = state.clone();
            async move {
                // The first frame at once, then one a second.
                if !first {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                loop {
                    match frame(&state, window, since).await {
                        Ok((frame, until)) => return Some((frame, (Some(until), false))),
                        Err(error) => {
                            tracing::warn!(
                                status = error.status(),
                                "a console frame could not be read; trying again in a second"
                            );
                        }
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        })
        .map(|frame| {
            let data = serde_json::to_string(&poem_openapi::types::ToJSON::to_json(&frame))
                .unwrap_or_default();
            Ok::<_, std::io::Error>(Framing::Sse.frame(None, "frame", &data))
        });
        Ok(LiveStream(poem::Body::from_bytes_stream(frames)))
    }
}

/// `GET /admin/live`'s answer: `frame` events, each's data a [`LiveFrame`].
pub struct LiveStream(poem::Body);

impl ApiResponse for LiveStream {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![Framing::documented_sse(
                "Every second, an event `frame` whose data is a `LiveFrame`.",
            )],
        }
    }

    fn register(registry: &mut Registry) {
        <LiveFrame as poem_openapi::types::Type>::register(registry);
        Framing::register(registry);
    }
}

impl IntoResponse for LiveStream {
    fn into_response(self) -> Response {
        Framing::Sse.response(self.0)
    }
}

/// The queue `name` names, or 404.
fn queue(name: &str) -> ApiResult<JobKind> {
    JobKind::parse(name).ok_or_else(|| ApiError::not_found("queue"))
}

async fn read_stats(state: &AppState, window: StatsWindow) -> ApiResult<ConsoleStats> {
    let stats = stats::stats(&state.pool, window.duration(), window.step()).await?;
    Ok(ConsoleStats::new(window, state.flags.paused_kinds(), stats))
}

/// One frame of the live stream: the statistics, and what changed since the previous
/// frame (`since`, where its interval ended), with where this one's ends.
async fn frame(
    state: &AppState,
    window: StatsWindow,
    since: Option<DateTime<Utc>>,
) -> ApiResult<(LiveFrame, DateTime<Utc>)> {
    let stats = read_stats(state, window).await?;
    let (changes, until) = stats::changes(&state.pool, since).await?;
    let changes = changes
        .into_iter()
        .map(|c| KindChange {
            kind: c.kind,
            change: c.change,
            count: c.count,
        })
        .collect();
    Ok((LiveFrame { stats, changes }, until))
}

/// Runs a bulk action batch after batch, then records it (a dry run is not recorded).
async fn act(
    state: &AppState,
    auth: AdminAuth,
    body: &BulkRequest,
    action: Action,
) -> ApiResult<Tally> {
    let filter = body.filter();
    if filter.is_empty() && !body.all {
        return Err(ApiError::unprocessable_field(
            "filter",
            "name at least one of kind, status, lane, workspace, errorCode, from, to or q; or say \"all\": true to act on every job",
        ));
    }
    let mut tally = Tally::default();
    let mut before = None;
    loop {
        let batch = bulk::batch(&state.pool, &filter, action, body.dry_run, before).await?;
        tally.add(&batch);
        if !body.dry_run {
            after(state, action, &batch).await;
        }
        match batch.next() {
            Some(next) if batch.jobs.len() >= BATCH => before = Some(next),
            _ => break,
        }
    }
    if !body.dry_run {
        let actor = auth.actor().as_str();
        tracing::warn!(
            action = action.as_str(),
            actor,
            matched = tally.matched,
            acted = tally.acted,
            "bulk action"
        );
        let filter = serde_json::to_value(&filter).unwrap_or_default();
        record(state, actor, action.as_str(), &filter, &tally).await?;
    }
    Ok(tally)
}

async fn record(
    state: &AppState,
    actor: &str,
    action: &str,
    filter: &serde_json::Value,
    tally: &Tally,
) -> ApiResult<()> {
    console::record_action(
        &state.pool,
        actor,
        action,
        filter,
        tally.matched,
        tally.acted,
        &serde_json::to_value(&tally.skipped).unwrap_or_default(),
    )
    .await?;
    Ok(())
}

/// What follows a committed batch: a retry wakes its kinds' queues; a cancel publishes
/// the cancelled jobs' final events and tells the workers running the others to stop.
async fn after(state: &AppState, action: Action, batch: &Batch) {
    let taken = batch.jobs.iter().filter(|job| job.skipped.is_none());
    match action {
        Action::Retry => {
            let mut woken: std::collections::BTreeMap<JobKind, usize> = Default::default();
            for job in taken {
                let count = woken.entry(job.kind).or_default();
                if *count < WAKE_UPS_PER_BATCH {
                    *count += 1;
                    state.queue.push_or_log(job.kind, job.id, None).await;
                }
            }
        }
        Action::Cancel => {
            let (pending, running): (Vec<_>, Vec<_>) =
                taken.partition(|job| job.before == JobStatus::Pending);
            for job in running {
                if let Err(error) =
                    jobs::publish_cancel(&state.redis, &state.settings, job.id).await
                {
                    // The worker's heartbeat reads the flag too.
                    tracing::warn!(job_id = %job.id, error = %error, "publishing the cancel failed");
                }
            }
            let ids: Vec<Uuid> = pending.iter().map(|job| job.id).collect();
            match ledger::fetch_many(&state.pool, &ids).await {
                Ok(records) => {
                    // Several at once over the multiplexed connection: a batch's thousand
                    // scripts cost a few round trips, not a thousand.
                    futures::stream::iter(records)
                        .for_each_concurrent(FINAL_EVENTS_AT_ONCE, |record| async move {
                            if let Err(error) = state.emitter.publish_final_from(&record).await {
                                // Its streams publish it when they find the ledger ahead.
                                tracing::warn!(job_id = %record.id, error = %error, "publishing the final event failed");
                            }
                        })
                        .await;
                }
                Err(error) => {
                    tracing::warn!(error = %error, "reading cancelled jobs for their final events failed; their streams will publish them")
                }
            }
        }
    }
}
