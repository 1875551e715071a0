//! What a publish job writes of its intent, step by step (the container prepared, the
//! request sending, accepted, not applied, unknown, failed, settled), each step fenced by
//! the job's claim, and the job's end.

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

    /// Marked before the request with an outside effect goes (its own commit).
    pub(super) async fn sending(&self, post: &Post) -> Result<(), Stop> {
        let sent = serde_json::to_value(post).unwrap_or_default();
        self.intent()
            .mark_sending(&sent)
            .await
            .context("marking the intent sending")?;
        Ok(())
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
