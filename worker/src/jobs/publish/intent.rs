//! What a publish job writes of its intent, step by step (the container prepared, the
//! request sending, accepted, not applied, unknown, failed, settled), each step fenced by
//! the job's claim, and the job's end.

use almanac_publishing::{
    catalogue::Quota,
    quota::{self, Forecast, Window},
};
use almanac_shared::store::publish::{Marked, quota_times};
use chrono::Utc;

use super::{
    Context, End, Failure, Finished, IntentRun, IntentStatus, JobResult, Post, Publisher, Stop,
    Value, json,
};

impl Publisher<'_> {
    /// The intent, as this job writes it.
    pub(super) fn intent(&self) -> IntentRun<'_> {
        IntentRun {
            pool: &self.ctx.pool,
            intent: self.input.id,
            job: self.claim.id,
        }
    }

    pub(super) async fn remote(&self, remote_id: &str) -> Result<(), Stop> {
        self.intent()
            .remote(remote_id)
            .await
            .context("recording the container")?;
        Ok(())
    }

    /// Marked before the request with an outside effect goes (its own commit), with the
    /// hash of the entry's content the post was made from (`hash`); on a platform whose
    /// quota Almanac counts (`counted`: the quota and its window now), only within it. An
    /// intent held to an approval is marked only while that approval holds.
    pub(super) async fn sending(
        &self,
        post: &Post,
        hash: Option<&str>,
        counted: Option<&(Quota, Window)>,
    ) -> Result<Marked, Stop> {
        let sent = serde_json::to_value(post).unwrap_or_default();
        let Some((quota, window)) = counted else {
            let marked = self
                .intent()
                .mark_sending(&sent, hash)
                .await
                .context("marking the intent sending")?;
            return Ok(self.held_to_approval(if marked {
                Marked::Marked
            } else {
                Marked::NotApproved
            }));
        };
        let limit = i64::from(quota.limit);
        let counting = quota::counting(quota, &self.input.channel, self.input.account);
        let marked = self
            .intent()
            .mark_sending_within((&sent, hash), &counting, limit, window.since)
            .await
            .context("marking the intent sending within its quota")?;
        Ok(self.held_to_approval(marked))
    }

    /// What a mark that wrote nothing means: for an intent held to an approval, that the
    /// approval no longer holds; for any other, nothing new (its job goes on as it always
    /// did, the intent's later writes fenced by the claim).
    fn held_to_approval(&self, marked: Marked) -> Marked {
        match marked {
            Marked::NotApproved if self.input.approved_hash.is_none() => Marked::Marked,
            other => other,
        }
    }

    /// Why a counted quota has no place for this post now, and when one frees (read only:
    /// the mark that takes one is [`Publisher::sending`]'s).
    pub(super) async fn quota_full(
        &self,
        quota: &Quota,
        label: &'static str,
    ) -> Result<Option<Failure>, Stop> {
        let now = Utc::now();
        let mut conn = self
            .ctx
            .pool
            .acquire()
            .await
            .context("counting the quota")?;
        let counting = quota::counting(quota, &self.input.channel, self.input.account);
        let sent = quota_times(
            &mut conn,
            &counting,
            Forecast::since(quota, now),
            &[self.input.id],
        )
        .await
        .context("counting the quota")?
        .into_iter()
        .filter(|at| *at <= now)
        .collect();
        let Some(problem) = Forecast::new(*quota, label, sent).problem(now) else {
            return Ok(None);
        };
        let wait = problem
            .frees_at
            .and_then(|at| (at - now).to_std().ok())
            .unwrap_or_default()
            .max(std::time::Duration::from_secs(1));
        Ok(Some(
            Failure::retryable("DAILY_QUOTA_EXHAUSTED", problem.message).deferred(wait),
        ))
    }

    pub(super) async fn accepted(&self, remote_id: &str) -> Result<(), Stop> {
        self.intent()
            .accepted(remote_id)
            .await
            .context("recording the post accepted")?;
        Ok(())
    }

    pub(super) async fn not_applied(&self, failure: &Failure) -> Result<(), Stop> {
        self.intent()
            .not_applied(&failure.to_json())
            .await
            .context("recording the refusal")?;
        Ok(())
    }

    pub(super) async fn unknown(&self, message: &str) -> Result<(), Stop> {
        let detail = json!({ "code": "PUBLISH_UNKNOWN", "message": message });
        tracing::warn!(intentId = %self.input.id, channel = %self.input.channel, status = "unknown", message, "publish outcome unknown");
        self.ctx
            .platforms
            .count_outcome(&self.input.channel, IntentStatus::Unknown);
        self.intent()
            .unknown(&detail)
            .await
            .context("recording the intent unknown")?;
        Ok(())
    }

    pub(super) async fn fail(&self, failure: &Failure) -> Result<IntentStatus, Stop> {
        self.set(IntentStatus::Failed, Some(&failure.to_json()), (None, None))
            .await
    }

    /// Records a final status (and the post's id).
    /// Records a final status, with the post's id and address (`post`) when it went out.
    pub(super) async fn set(
        &self,
        status: IntentStatus,
        error: Option<&Value>,
        post: (Option<&str>, Option<&str>),
    ) -> Result<IntentStatus, Stop> {
        self.intent()
            .settle(status, error, post)
            .await
            .context("recording the intent's outcome")?;
        Ok(status)
    }

    pub(super) async fn finish(&self, status: IntentStatus) -> JobResult {
        let input = &self.input;
        self.ctx.platforms.count_outcome(&input.channel, status);
        metrics::histogram!("publish_duration_seconds", "channel" => input.channel.clone())
            .record(self.started.elapsed().as_secs_f64());
        tracing::info!(
            requestId = input.request_id.as_deref().unwrap_or(""),
            userId = %input.user_id,
            channel = %input.channel,
            calendarId = %input.calendar_id,
            runId = input.run_id.map(|r| r.to_string()).unwrap_or_default(),
            status = status.as_str(),
            intentId = %input.id,
            "publish intent settled"
        );
        let result = json!({ "intent_id": input.id, "status": status });
        self.claim
            .end(&self.ctx.pool, Finished::succeeded(result))
            .await
    }
}
