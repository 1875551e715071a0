//! The `post_metrics` job (issue 58): one reading of a published post's numbers, read from
//! its platform with the channel's token (refreshed once should the platform refuse it),
//! under the channel's permits like a publish's requests. The numbers are kept with the
//! read's end in one commit; an empty answer is kept as empty and not asked again. A
//! refusal ends the read with the platform's reason: a permission not granted also marks
//! the channel ("connect again to see analytics"), and no reading is made for it until it
//! connects again. Only a platform that could not answer is tried again, on the ledger's
//! attempts. While publishing is off for the post's owner, the reading waits unasked.

use almanac_publishing::{
    ANALYTICS_SCOPE_MISSING, Adapter, Auth, Failure, FailureKind, PLATFORM_BUSY, Platform,
    PostMetrics, REQUEST_PERMITS, RequestPermits,
    channels::{self, UsableError},
    scope_missing,
};
use almanac_shared::{
    domain::analytics::{PostMetricsJob, ReadingKind},
    flags::Flag,
    store::{
        analytics::{self, NewReading, Read},
        jobs::Claim,
    },
};
use chrono::Utc;
use serde_json::json;

use crate::job::{Context, End, Finished, Job, JobContext, JobError, JobResult, LogContext};

/// How long a reading held by the publishing flag waits before it looks again.
const FLAG_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

impl Job for PostMetricsJob {
    type Input = Read;

    const START: &'static str = analytics::START;

    const MISSING: &'static str = "POST_METRICS_READ_MISSING";

    fn log_context(read: &Read) -> LogContext {
        LogContext {
            channel: Some(read.channel.clone()),
            ..LogContext::default()
        }
    }

    async fn run(self, ctx: &JobContext, claim: &Claim, read: Read) -> JobResult {
        Reader { ctx, claim, read }.run().await
    }
}

/// One attempt at a reading.
struct Reader<'a> {
    ctx: &'a JobContext,
    claim: &'a Claim,
    read: Read,
}

impl Reader<'_> {
    async fn run(self) -> JobResult {
        let read = &self.read;
        let post_id = match (&read.remote_post_id, read.intent_status.as_str()) {
            (Some(post_id), "published") => post_id.clone(),
            (_, status) => {
                return Err(JobError::permanent(
                    "NOT_PUBLISHED",
                    format!("the post is {status}, so it has no numbers to read"),
                ));
            }
        };
        if let Some(reason) = &read.analytics_refused {
            return Err(JobError::permanent(ANALYTICS_SCOPE_MISSING, reason.clone()));
        }
        if !self.ctx.flags.enabled(Flag::PublishService, read.user_id) {
            // Publishing is off for its owner: no platform is asked anything. The reading
            // waits, its attempt not spent, and is made once the flag allows.
            let mut waiting = JobError::transient(
                "PUBLISH_DISABLED",
                "publishing is off for now; the post's numbers are read once it is back on",
            );
            waiting.release_after = Some(FLAG_WAIT);
            return Err(waiting);
        }
        let Some(platform) = self.ctx.platforms.of_channel(&read.channel) else {
            return Err(JobError::permanent(
                "UNSUPPORTED_CHANNEL",
                format!("no adapter reads `{}`", read.channel),
            ));
        };
        let adapter = self.ctx.platforms.registered(platform);
        if let Some(missing) = scope_missing(adapter, read.scope.as_deref()) {
            // Connected without the permission: the platform would refuse.
            return Err(self.refused(&missing).await);
        }
        let asked = RequestPermits {
            permits: self.ctx.platform_permits.clone(),
            scope: format!(
                "{}:{}",
                read.channel,
                read.account.map(|a| a.to_string()).unwrap_or_default()
            ),
            max: self.ctx.settings.publish.max_concurrency,
        };
        let metrics = REQUEST_PERMITS
            .scope(asked, self.metrics(platform, adapter, &post_id))
            .await?;
        self.keep(metrics).await
    }

    /// The post's numbers, with one refresh of the token should the platform refuse it.
    async fn metrics(
        &self,
        platform: Platform,
        adapter: &dyn Adapter,
        post_id: &str,
    ) -> Result<Option<PostMetrics>, JobError> {
        let mut auth = self.auth(platform, false).await?;
        let mut refreshed = false;
        loop {
            match adapter.metrics(&auth, post_id).await {
                Ok(metrics) => return Ok(metrics),
                Err(failure) if failure.kind == FailureKind::Auth && !refreshed => {
                    refreshed = true;
                    auth = self.auth(platform, true).await?;
                }
                Err(failure) => return Err(self.refused(&failure).await),
            }
        }
    }

    /// The channel's token; a channel that cannot be used ends the read.
    async fn auth(&self, platform: Platform, force: bool) -> Result<Auth, JobError> {
        let (Some(cipher), Some(account)) = (self.ctx.cipher.as_ref(), self.read.account) else {
            return Err(JobError::permanent(
                "CHANNEL_NOT_CONNECTED",
                "the channel the post went out on is not connected",
            ));
        };
        let pool = &self.ctx.pool;
        match channels::usable(
            pool,
            &self.ctx.platforms,
            cipher,
            account,
            Utc::now(),
            force,
        )
        .await
        {
            Ok(Ok(auth)) => Ok(auth),
            Ok(Err(unusable)) => Err(JobError::permanent(
                unusable.code(),
                unusable.message(platform.as_str()),
            )),
            Err(UsableError::Database(error)) => Err(error.into()),
            Err(UsableError::Platform(failure)) => {
                Err(JobError::transient(&failure.code, failure.message))
            }
        }
    }

    /// A refusal as the job's error: a platform that could not answer is tried again (a
    /// busy channel or a rate limit after its wait, no attempt spent); any other ends the
    /// read, and a permission refused marks the channel.
    async fn refused(&self, failure: &Failure) -> JobError {
        let mut error = match failure.kind {
            FailureKind::Retryable => JobError::transient(&failure.code, failure.message.clone()),
            _ => JobError::permanent(&failure.code, failure.message.clone()),
        };
        if let Some(code) = &failure.platform_code {
            error = error.with("platformCode", code.as_str());
        }
        if failure.code == PLATFORM_BUSY {
            error.release_after = Some(almanac_shared::permits::retry_pause());
        } else if failure.kind == FailureKind::Retryable {
            error.release_after = failure.retry_after;
        }
        if failure.code == ANALYTICS_SCOPE_MISSING
            && let Some(account) = self.read.account
        {
            let marked = async {
                let mut conn = self.ctx.pool.acquire().await?;
                analytics::refuse_account(&mut conn, account, &failure.message).await
            };
            if let Err(db) = marked.await {
                return JobError::from(db);
            }
            tracing::info!(channel = %self.read.channel, channel_id = %account, "the platform refused the channel's numbers");
        }
        error
    }

    /// Keeps the reading (numbers, or empty) and ends the read and its job, in one commit.
    async fn keep(&self, metrics: Option<PostMetrics>) -> JobResult {
        let read = &self.read;
        // The word `post_metrics` keeps the reading under (the row's check allows no other).
        let kind = ReadingKind::parse(&read.reading)
            .unwrap_or(ReadingKind::Manual)
            .as_str();
        let Some(mut tx) = self
            .ctx
            .fenced(self.claim, None, "keeping the reading")
            .await?
        else {
            return Ok(None);
        };
        let reading = NewReading {
            intent_id: read.intent_id,
            user_id: read.user_id,
            account: read.account,
            reading: kind,
            metrics: metrics.map(|m| m.reading),
            reach: metrics.and_then(|m| m.reach),
            followers: metrics.and_then(|m| m.followers),
        };
        analytics::record(&mut *tx, &reading)
            .await
            .context("keeping the reading")?;
        let outcome = if metrics.is_some() {
            "measured"
        } else {
            "empty"
        };
        analytics::end_read(&mut tx, read.id, Ok(outcome))
            .await
            .context("ending the read")?;
        let result = json!({ "read_id": read.id, "intent_id": read.intent_id,
            "reading": kind, "outcome": outcome });
        self.claim.end(tx, Finished::succeeded(result)).await
    }
}
