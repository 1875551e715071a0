//! Runs what a delivery from the queue wakes: the jobs of its kind the ledger gives the
//! slot, one after another (claim, heartbeat, dispatch to its kind, and the ledger outcome:
//! success, retry with backoff, release, or failure, with its final event).
//!
//! The ledger decides what an attempt came to. Whenever a fenced write finds the job no
//! longer this attempt's (its handler committed the end just before being interrupted, a
//! cancel or the reconciler ended it, another worker holds it), the runner reads the
//! ledger: an ended job gets its final events published and is never queued again.

use almanac_shared::jobs::JobRecord;
use almanac_shared::store::jobs as ledger;
use almanac_shared::store::jobs::{Beat, Claim};
use std::time::{Duration, Instant};

use almanac_shared::{
    db,
    events::Event,
    jobs::{self, JobMessage, JobStatus},
    telemetry,
    trips::{self, Step},
};
use serde_json::{Value, json};
use tracing::Instrument;
use uuid::Uuid;

use crate::claims::Claimer;
use crate::job::{Finished, JobContext, JobError, JobResult, Registry};

enum Outcome {
    Done(JobResult),
    /// The heartbeat found the claim gone: the job ended, or the reconciler gave it to
    /// someone else.
    Lost,
    /// Shutdown grace ran out.
    Released,
    /// Its owner cancelled it.
    Cancelled,
}

/// Handles one delivery of a queue: a wake-up for its kind. The slot it holds runs the
/// jobs the ledger gives it, one after another, until none of the kind is ready within
/// its turns (a job whose key was at its cap runs when a running one of that key ends,
/// on the slot that ran it) or the worker stops. Never fails: every problem ends in the
/// ledger, and a wake-up lost to an error is repaired by the reconciler.
pub(crate) async fn run(
    ctx: &JobContext,
    registry: &Registry,
    claimer: &Claimer,
    message: JobMessage,
    go_on: impl Fn() -> bool,
) {
    if message.kind != claimer.kind() || registry.get(message.kind).is_none() {
        tracing::warn!(job_id = %message.job_id, kind = %message.kind, queue = %claimer.kind(), "delivery of a kind this queue does not run");
        return;
    }
    // A delivery pushed for later has its job looked at once, when it found nothing to run.
    let mut looked = false;
    loop {
        match claimer.next().await {
            Ok(Some(claim)) => run_claimed(ctx, registry, claim).await,
            Ok(None) if message.delayed && !looked => {
                looked = true;
                // Nothing ready: the delivered job may be a retry that came early (it goes
                // back for when it is due), or one that became due since the claim (the
                // claim is tried again).
                match ledger::pending_due(&ctx.pool, message.job_id).await {
                    Ok(Some(delay)) if !delay.is_zero() => {
                        tracing::debug!(job_id = %message.job_id, delay_ms = delay.as_millis() as u64, "delivered before its retry is due; deferring");
                        redeliver(ctx, message, delay).await;
                        return;
                    }
                    Ok(Some(_)) => continue,
                    Ok(None) => return,
                    Err(error) => {
                        tracing::debug!(job_id = %message.job_id, error = %error, "reading when the delivered job is due failed; the reconciler will queue it again");
                        return;
                    }
                }
            }
            Ok(None) => return,
            Err(error) => {
                // The database is unreachable or saturated: wake the queue again soon
                // rather than waiting for the reconciler.
                let delay = jobs::backoff(
                    1,
                    ctx.settings.jobs.backoff_base,
                    ctx.settings.jobs.backoff_max,
                );
                tracing::warn!(job_id = %message.job_id, error = %error, retry_in_ms = delay.as_millis() as u64, "claim failed; delivering again later");
                redeliver(ctx, message, delay).await;
                return;
            }
        }
        if !go_on() {
            return;
        }
    }
}

/// Runs one claimed job to its outcome in the ledger.
async fn run_claimed(ctx: &JobContext, registry: &Registry, claim: Claim) {
    let Some(job) = registry.get(claim.kind) else {
        return;
    };
    let kind = claim.kind;
    let (context, attempt) = job.begin(ctx, &claim);
    let request_id = context.request_id.as_deref().or(claim
        .trace_context
        .get(telemetry::REQUEST_ID_KEY)
        .map(String::as_str));
    // Every line of the job carries seed 001's fields; `status` is the job's, until the
    // handler's own lines say more.
    let span = tracing::info_span!(
        "job",
        job.id = %claim.id,
        job.kind = %kind,
        job.attempt = claim.attempt,
        requestId = request_id,
        userId = %claim.user_id,
        channel = context.channel.as_deref(),
        calendarId = context.calendar_id.map(tracing::field::display),
        generation_id = context.generation_id.map(tracing::field::display),
        runId = context.run_id.map(tracing::field::display),
        status = "running",
    );
    telemetry::continue_trace(&span, &claim.trace_context);
    let attempt = async {
        let started = Instant::now();
        tracing::info!(job_id = %claim.id, "job claimed");
        if let Some(token) = claim.events_token {
            // The previous attempt may have died between a commit and its events.
            if let Err(error) = ctx.emitter.publish_staged(claim.id, token).await {
                tracing::warn!(job_id = %claim.id, error = %error, "publishing an earlier attempt's events failed");
            }
        }
        let registered = ctx.cancels.register(claim.id);
        if claim.cancel_requested {
            registered.token.cancel();
        }
        // Dropping the handler stops it where it is: an AI request in flight is aborted,
        // and what it saved before stays.
        let outcome = tokio::select! {
            biased;
            () = registered.token.cancelled() => Outcome::Cancelled,
            result = attempt => Outcome::Done(result),
            beat = heartbeat_until_interrupted(ctx, &claim) => match beat {
                Beat::CancelRequested => Outcome::Cancelled,
                _ => Outcome::Lost,
            },
            () = ctx.hard_stop.cancelled() => Outcome::Released,
        };
        drop(registered);
        let label = trips::within(Step::End, settle(ctx, &claim, outcome)).await;
        tracing::Span::current().record("status", label);
        if let Some(calendar) = context.calendar_id {
            announce_ended(ctx, &claim, calendar, label).await;
        }
        let labels = [
            ("kind", kind.as_str().to_owned()),
            ("outcome", label.to_owned()),
        ];
        metrics::counter!("jobs_total", &labels).increment(1);
        metrics::histogram!("job_duration_seconds", &labels)
            .record(started.elapsed().as_secs_f64());
        tracing::info!(job_id = %claim.id, status = label, duration_ms = started.elapsed().as_millis() as u64, "job attempt finished");
    };
    trips::scope(kind, Step::Handler, attempt.instrument(span)).await;
}

/// A job of a calendar (its run, a publish of its entries) ended: the calendar's open
/// copies read it again (`calendar.changed` on its live stream, as the API says a
/// request's change).
async fn announce_ended(ctx: &JobContext, claim: &Claim, calendar: Uuid, label: &str) {
    if !JobStatus::parse(label).is_some_and(JobStatus::is_final) {
        return;
    }
    let data = json!({ "calendarId": calendar, "action": claim.kind.as_str(), "status": label,
        "by": { "userId": claim.user_id, "kind": "worker" }, "at": chrono::Utc::now().to_rfc3339() });
    ctx.emitter
        .announce(calendar, almanac_shared::events::CALENDAR_CHANGED, &data)
        .await;
}

/// Pushes a delivery back onto its queue after `delay`; on failure the reconciler repairs it.
async fn redeliver(ctx: &JobContext, message: JobMessage, delay: Duration) {
    let job_id = message.job_id;
    ctx.queue
        .push_or_log(message.kind, job_id, Some(delay))
        .await;
}

/// Refreshes the claim's heartbeat; returns only when the claim is lost or the owner asked
/// to cancel (the flag backs up the cancel notification).
async fn heartbeat_until_interrupted(ctx: &JobContext, claim: &Claim) -> Beat {
    let mut ticker = tokio::time::interval(ctx.settings.jobs.heartbeat);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        match ledger::heartbeat(&ctx.pool, claim).await {
            Ok(Beat::Alive) => {}
            Ok(Beat::Lost) => {
                tracing::info!(job_id = %claim.id, "claim no longer held; abandoning this attempt");
                return Beat::Lost;
            }
            Ok(Beat::CancelRequested) => return Beat::CancelRequested,
            Err(error) => tracing::warn!(job_id = %claim.id, error = %error, "heartbeat failed"),
        }
    }
}

/// Writes the outcome to the ledger and publishes what it says; returns the metrics label.
async fn settle(ctx: &JobContext, claim: &Claim, outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Done(Ok(Some(finished))) => {
            publish_finished(ctx, claim, &finished).await;
            finished.status.as_str()
        }
        Outcome::Done(Ok(None)) | Outcome::Lost => settled_elsewhere(ctx, claim).await,
        Outcome::Released => release(ctx, claim, Duration::ZERO, "shutdown grace ran out").await,
        Outcome::Cancelled => {
            let detail = json!({ "code": "CANCELLED", "message": "cancelled by its owner" });
            tracing::info!(job_id = %claim.id, "job cancelled");
            end(ctx, claim, JobStatus::Cancelled, detail.clone(), detail).await
        }
        Outcome::Done(Err(error)) if let Some(wait) = error.release_after => {
            // Nothing was asked of the outside service (its breaker is open, or its
            // permits are taken): the job goes back to the ledger, its attempt not spent.
            log_failure(
                claim,
                &error,
                "the outside service cannot be asked now; releasing",
                wait,
            );
            metrics::counter!("jobs_deferred_total", "kind" => claim.kind.as_str()).increment(1);
            let waiting = Event::Error {
                code: Some(error.code().to_owned()),
                message: error.detail["message"]
                    .as_str()
                    .unwrap_or("an outside service cannot be asked now; this job waits for it")
                    .to_owned(),
                placement_id: None,
                retrying: true,
            };
            ctx.emitter.emit_or_log(claim.id, &waiting).await;
            release(ctx, claim, wait, "the outside service cannot be asked now").await
        }
        Outcome::Done(Err(error)) if error.unavailable => {
            // Not the job's failure: it runs again, this attempt not counted.
            let delay = jobs::backoff(
                1,
                ctx.settings.jobs.backoff_base,
                ctx.settings.jobs.backoff_max,
            );
            log_failure(
                claim,
                &error,
                "the database became unreachable; releasing",
                delay,
            );
            release(ctx, claim, delay, "the database became unreachable").await
        }
        Outcome::Done(Err(error)) if error.transient && !claim.is_last_attempt() => {
            retry(ctx, claim, error).await
        }
        Outcome::Done(Err(error)) => {
            log_failure(claim, &error, "job failed", Duration::ZERO);
            let mut detail = error.detail.clone();
            detail["attempts"] = json!(claim.attempt);
            let mut domain_detail = error.domain_detail();
            domain_detail["attempts"] = json!(claim.attempt);
            end(ctx, claim, JobStatus::Failed, detail, domain_detail).await
        }
    }
}

/// Publishes the final events of a job its handler ended: what the handler staged for its
/// last commit, then `done`.
async fn publish_finished(ctx: &JobContext, claim: &Claim, finished: &Finished) {
    if let Err(error) = ctx
        .emitter
        .publish_final(claim.id, finished.staged.as_ref(), None, &finished.event())
        .await
    {
        tracing::warn!(job_id = %claim.id, error = %error, "publishing the final events failed; the job's streams will");
    }
}

/// The job is no longer this attempt's to write: reads what became of it and, if it
/// ended, publishes its final events (this attempt's own, if its handler committed the
/// end just before the interruption). Nothing is queued again.
async fn settled_elsewhere(ctx: &JobContext, claim: &Claim) -> &'static str {
    let job = match ledger_write(ctx, claim.id, "reading the job", || {
        ledger::fetch(&ctx.pool, claim.id)
    })
    .await
    {
        Ok(Some(job)) => job,
        Ok(None) => return "lost",
        Err(error) => {
            tracing::warn!(job_id = %claim.id, error = %error, "could not read what became of the job");
            return "lost";
        }
    };
    if !job.status.is_final() {
        tracing::info!(job_id = %claim.id, "another attempt holds the job");
        return "lost";
    }
    publish_ended(ctx, &job).await;
    if job.attempts == claim.attempt {
        job.status.as_str()
    } else {
        "lost"
    }
}

async fn publish_ended(ctx: &JobContext, job: &JobRecord) {
    if let Err(error) = ctx.emitter.publish_final_from(job).await {
        tracing::warn!(job_id = %job.id, error = %error, "publishing the final events failed; the job's streams will");
    }
}

/// Gives the job back without spending the attempt, due after `delay`, and queues it again.
async fn release(
    ctx: &JobContext,
    claim: &Claim,
    delay: Duration,
    why: &'static str,
) -> &'static str {
    match ledger_write(ctx, claim.id, "releasing the job", || {
        ledger::release(&ctx.pool, claim, delay)
    })
    .await
    {
        Ok(true) => {
            tracing::info!(job_id = %claim.id, retry_in_ms = delay.as_millis() as u64, "released: {why}");
            let delay = (!delay.is_zero()).then_some(delay);
            ctx.queue.push_or_log(claim.kind, claim.id, delay).await;
            "released"
        }
        Ok(false) => settled_elsewhere(ctx, claim).await,
        Err(error) => {
            tracing::warn!(job_id = %claim.id, error = %error, "release failed; the reconciler will recover the job");
            "released"
        }
    }
}

/// Schedules the next attempt after a transient failure, and tells the job's watchers.
async fn retry(ctx: &JobContext, claim: &Claim, error: JobError) -> &'static str {
    let delay = match error.retry_after {
        Some(exactly) if error.retry_exactly => exactly,
        retry_after => jobs::backoff(
            claim.attempt,
            ctx.settings.jobs.backoff_base,
            ctx.settings.jobs.backoff_max,
        )
        .max(retry_after.unwrap_or_default()),
    };
    log_failure(claim, &error, "attempt failed; retrying", delay);
    let mut detail = error.detail;
    detail["attempt"] = json!(claim.attempt);
    match ledger_write(ctx, claim.id, "scheduling the retry", || {
        ledger::schedule_retry(&ctx.pool, claim, delay, &detail)
    })
    .await
    {
        Ok(true) => {}
        Ok(false) => return settled_elsewhere(ctx, claim).await,
        Err(error) => {
            tracing::warn!(job_id = %claim.id, error = %error, "could not schedule the retry; the reconciler will recover the job");
            return "retrying";
        }
    }
    ctx.queue
        .push_or_log(claim.kind, claim.id, Some(delay))
        .await;
    let event = Event::Error {
        code: detail["code"].as_str().map(str::to_owned),
        message: format!(
            "attempt {} of {} failed ({}); retrying in {} ms",
            claim.attempt,
            claim.max_attempts,
            detail["message"].as_str().unwrap_or("unknown error"),
            delay.as_millis()
        ),
        placement_id: None,
        retrying: true,
    };
    ctx.emitter.emit_or_log(claim.id, &event).await;
    "retrying"
}

/// Ends the job `failed` or `cancelled` with its domain rows, keeping what it saved, and
/// publishes its final events.
async fn end(
    ctx: &JobContext,
    claim: &Claim,
    status: JobStatus,
    detail: Value,
    domain_detail: Value,
) -> &'static str {
    match ledger_write(ctx, claim.id, "ending the job", || {
        ledger::end(&ctx.pool, claim, status, &detail, &domain_detail)
    })
    .await
    {
        Ok(Some(job)) => {
            publish_ended(ctx, &job).await;
            status.as_str()
        }
        // It ended otherwise meanwhile (say, it succeeded just as a cancel came).
        Ok(None) => settled_elsewhere(ctx, claim).await,
        Err(error) => {
            tracing::warn!(job_id = %claim.id, error = %error, "could not record the outcome; the reconciler will recover the job");
            status.as_str()
        }
    }
}

/// Runs a ledger write, trying again with backoff while Postgres is unreachable, so a
/// blip delays the outcome by about its own length instead of leaving the job to stale
/// recovery. Gives up after `JOB_STALE_MS` (the reconciler then recovers the job) or at
/// the shutdown hard stop.
async fn ledger_write<T, F, Fut>(
    ctx: &JobContext,
    job: Uuid,
    what: &'static str,
    write: F,
) -> sqlx::Result<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = sqlx::Result<T>>,
{
    let give_up = Instant::now() + ctx.settings.jobs.stale_after;
    let mut pause = Duration::from_millis(50);
    loop {
        match write().await {
            Err(error) if db::is_unavailable(&error) && Instant::now() < give_up => {
                tracing::info!(job_id = %job, error = %error, retry_in_ms = pause.as_millis() as u64, "{what} failed; trying again");
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = ctx.hard_stop.cancelled() => return Err(error),
                }
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

/// Logs a failed attempt once, with its cause (which the job's stored error leaves out).
fn log_failure(claim: &Claim, error: &JobError, what: &str, retry_in: Duration) {
    tracing::warn!(
        job_id = %claim.id,
        code = error.code(),
        error = %error.detail,
        cause = error.cause.as_ref().map(|c| format!("{c:#}")),
        diagnostics = error.diagnostics.as_ref().map(|d| d.to_string()),
        retry_in_ms = retry_in.as_millis() as u64,
        "{what}"
    );
}
