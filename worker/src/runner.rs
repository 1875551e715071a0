//! Runs one job id taken from the queue: claim, heartbeat, dispatch by payload, and the
//! ledger outcome (success, retry with backoff, or failure).

use std::time::Instant;

use almanac_shared::{
    events::Event,
    jobs::{self, Beat, Claim, JobMessage, JobStatus, NotClaimed},
    telemetry,
};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::job::{JobContext, JobError, JobResult, Registry};

enum Outcome {
    Done(JobResult),
    /// The heartbeat found the claim gone: the reconciler gave the job to someone else.
    Lost,
    /// Shutdown grace ran out.
    Released,
    /// Its owner cancelled it.
    Cancelled,
}

/// Handles one delivery of `job_id`. Never fails: every problem ends in the ledger, and a
/// delivery that could not even be claimed is repaired by the reconciler.
pub async fn run(ctx: &JobContext, registry: &Registry, message: JobMessage) {
    let job_id = message.job_id;
    let Some(job) = registry.get(message.kind) else {
        tracing::warn!(job_id = %job_id, kind = %message.kind, "delivery of a kind this worker does not run");
        return;
    };
    let claim = match jobs::claim(&ctx.pool, job_id, &ctx.worker_name, job.start()).await {
        Ok(Ok(claim)) => claim,
        Ok(Err(NotClaimed::NotYetDue(due))) => {
            let delay = (due - chrono::Utc::now()).to_std().unwrap_or_default();
            tracing::debug!(job_id = %job_id, delay_ms = delay.as_millis() as u64, "delivered before its retry is due; deferring");
            redeliver(ctx, message, delay).await;
            return;
        }
        Ok(Err(reason)) => {
            tracing::debug!(job_id = %job_id, ?reason, "delivery skipped");
            return;
        }
        Err(error) => {
            // The database is unreachable or saturated: deliver again soon rather than
            // waiting for the reconciler.
            let delay = jobs::backoff(
                1,
                ctx.settings.jobs.backoff_base,
                ctx.settings.jobs.backoff_max,
            );
            tracing::warn!(job_id = %job_id, error = %format!("{error:#}"), retry_in_ms = delay.as_millis() as u64, "claim failed; delivering again later");
            redeliver(ctx, message, delay).await;
            return;
        }
    };
    let kind = claim.kind;
    let span = tracing::info_span!(
        "job",
        job.id = %claim.id,
        job.kind = %kind,
        job.attempt = claim.attempt,
        userId = %claim.user_id,
        calendarId = tracing::field::Empty,
        runId = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    telemetry::continue_trace(&span, &claim.trace_context);
    async {
        let started = Instant::now();
        tracing::info!(job_id = %claim.id, "job claimed");
        let registered = ctx.cancels.register(claim.id);
        if claim.cancel_requested {
            registered.token.cancel();
        }
        // Dropping the handler stops it where it is: an AI request in flight is aborted,
        // and what it saved before stays.
        let outcome = tokio::select! {
            biased;
            () = registered.token.cancelled() => Outcome::Cancelled,
            result = job.run(ctx, &claim) => Outcome::Done(result),
            beat = heartbeat_until_interrupted(ctx, &claim) => match beat {
                Beat::CancelRequested => Outcome::Cancelled,
                _ => Outcome::Lost,
            },
            () = ctx.hard_stop.cancelled() => Outcome::Released,
        };
        drop(registered);
        let (label, event) = settle(ctx, &claim, outcome).await;
        if let Some(event) = event {
            ctx.emitter.emit_or_log(claim.id, &event).await;
        }
        tracing::Span::current().record("status", label);
        let labels = [("kind", kind.as_str().to_owned()), ("outcome", label.to_owned())];
        metrics::counter!("jobs_total", &labels).increment(1);
        metrics::histogram!("job_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
        tracing::info!(job_id = %claim.id, status = label, duration_ms = started.elapsed().as_millis() as u64, "job attempt finished");
    }
    .instrument(span)
    .await;
}

/// Pushes a delivery back onto its queue after `delay`; on failure the reconciler repairs it.
async fn redeliver(ctx: &JobContext, message: JobMessage, delay: std::time::Duration) {
    let job_id = message.job_id;
    if let Err(error) = ctx.queue.push(message.kind, job_id, Some(delay)).await {
        tracing::warn!(job_id = %job_id, error = %format!("{error:#}"), "could not redeliver; the reconciler will");
    }
}

/// Refreshes the claim's heartbeat; returns only when the claim is lost or the owner asked
/// to cancel (the flag backs up the cancel notification).
async fn heartbeat_until_interrupted(ctx: &JobContext, claim: &Claim) -> Beat {
    let mut ticker = tokio::time::interval(ctx.settings.jobs.heartbeat);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        match jobs::heartbeat(&ctx.pool, claim).await {
            Ok(Beat::Alive) => {}
            Ok(Beat::Lost) => {
                tracing::warn!(job_id = %claim.id, "claim lost; abandoning this attempt");
                return Beat::Lost;
            }
            Ok(Beat::CancelRequested) => return Beat::CancelRequested,
            Err(error) => tracing::warn!(job_id = %claim.id, error = %error, "heartbeat failed"),
        }
    }
}

/// Writes the outcome to the ledger; returns the metrics label and the event to emit.
async fn settle(
    ctx: &JobContext,
    claim: &Claim,
    outcome: Outcome,
) -> (&'static str, Option<Event>) {
    match outcome {
        Outcome::Done(Ok(Some(finished))) => (finished.status.as_str(), Some(finished.event())),
        Outcome::Done(Ok(None)) | Outcome::Lost => ("lost", None),
        Outcome::Released => {
            match jobs::release(&ctx.pool, claim, std::time::Duration::ZERO).await {
                Ok(_) => {
                    if let Err(error) = ctx.queue.push(claim.kind, claim.id, None).await {
                        tracing::warn!(error = %format!("{error:#}"), "re-enqueue after release failed; the reconciler will");
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %error, "release failed; the reconciler will recover the job")
                }
            }
            ("released", None)
        }
        Outcome::Cancelled => {
            let detail = json!({ "code": "CANCELLED", "message": "cancelled by its owner" });
            tracing::info!(job_id = %claim.id, "job cancelled");
            end(ctx, claim, JobStatus::Cancelled, detail.clone(), detail).await
        }
        Outcome::Done(Err(error)) if error.transient && !claim.is_last_attempt() => {
            let delay = jobs::backoff(
                claim.attempt,
                ctx.settings.jobs.backoff_base,
                ctx.settings.jobs.backoff_max,
            );
            log_failure(claim, &error, "attempt failed; retrying", delay);
            let mut detail = error.detail.clone();
            detail["attempt"] = json!(claim.attempt);
            match jobs::schedule_retry(&ctx.pool, claim, delay, &detail).await {
                Ok(true) => {
                    if let Err(e) = ctx.queue.push(claim.kind, claim.id, Some(delay)).await {
                        tracing::warn!(error = %format!("{e:#}"), "retry enqueue failed; the reconciler will");
                    }
                }
                Ok(false) => return ("lost", None),
                Err(e) => {
                    tracing::warn!(error = %e, "could not schedule the retry; the reconciler will recover the job")
                }
            }
            let event = Event::Error {
                code: detail["code"].as_str().map(str::to_owned),
                message: format!(
                    "attempt {} of {} failed ({}); retrying in {} ms",
                    claim.attempt,
                    claim.max_attempts,
                    detail["message"].as_str().unwrap_or("unknown error"),
                    delay.as_millis()
                ),
            };
            ("retrying", Some(event))
        }
        Outcome::Done(Err(error)) => {
            log_failure(claim, &error, "job failed", std::time::Duration::ZERO);
            let mut detail = error.detail.clone();
            detail["attempts"] = json!(claim.attempt);
            let mut domain_detail = error.domain_detail();
            domain_detail["attempts"] = json!(claim.attempt);
            end(ctx, claim, JobStatus::Failed, detail, domain_detail).await
        }
    }
}

/// Logs a failed attempt once, with its cause (which the job's stored error leaves out).
fn log_failure(claim: &Claim, error: &JobError, what: &str, retry_in: std::time::Duration) {
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

/// Ends the job `failed` or `cancelled` with its domain rows, keeping what it saved.
async fn end(
    ctx: &JobContext,
    claim: &Claim,
    status: JobStatus,
    detail: Value,
    domain_detail: Value,
) -> (&'static str, Option<Event>) {
    match jobs::end(&ctx.pool, claim, status, &detail, &domain_detail).await {
        Ok(Some(kept)) => (
            status.as_str(),
            Some(Event::done(status, kept, Some(detail))),
        ),
        // The job ended otherwise meanwhile (say, it succeeded just as a cancel came):
        // its watchers get the ledger's outcome.
        Ok(None) => ("lost", ended_in_ledger(ctx, claim).await),
        Err(e) => {
            tracing::warn!(error = %e, "could not record the outcome; the reconciler will recover the job");
            (status.as_str(), None)
        }
    }
}

/// The final event of a job that has ended in the ledger, if it has.
async fn ended_in_ledger(ctx: &JobContext, claim: &Claim) -> Option<Event> {
    let job = jobs::fetch(&ctx.pool, claim.id).await.ok()??;
    Event::done_from(&job)
}
