//! The publish job (seed 001): one intent, published at most once.
//!
//! A fresh attempt reads the saved entry as it is now (edits included), checks it against
//! the platform's rules, makes sure of the channel's token (refreshing it once if the
//! platform refuses it), runs the harmless steps (TikTok's creator info, Instagram's quota
//! and container), then marks the intent `sending_at` in a commit of its own and sends the
//! one request with an outside effect. The platform's refusal clears the mark: a retryable
//! one goes back to the ledger's backoff, a permanent one fails the intent with the
//! platform's code and reason. A lost answer makes the intent `unknown`; so does an
//! attempt that finds the mark still set (its predecessor died mid-request). From then on
//! only read-only checks run, every `PUBLISH_CHECK_INTERVAL_MS`, until they say
//! `published`, `draft_sent` or `failed`, or `PUBLISH_CONFIRM_WINDOW_SECS` passes
//! (`unconfirmed`: the user checks the account, then retries if it is not there).

use almanac_shared::store::{
    calendars,
    jobs::Claim,
    publish::{self as store, IntentRun},
};
use std::time::Instant;

use almanac_shared::{
    flags::Flag,
    publish::{
        Adapter, Auth, Failure, FailureKind, IntentStatus, Mode, Options, PLATFORM_BUSY, Platform,
        Post, PublishJob, REQUEST_PERMITS, Remote, RequestPermits, Sent,
        channels::{self, Unusable, UsableError},
    },
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::job::{Context, Finished, Job, JobContext, JobError, JobResult, LogContext};

impl Job for PublishJob {
    type Input = Input;

    /// A `scheduled` intent becomes `publishing` (one more attempt); the status it had
    /// comes back as `previous`. Only the intent's current job may run it.
    const START: &'static str = store::START;

    const MISSING: &'static str = "PUBLISH_INTENT_MISSING";

    /// The request that created the intent (also for a scheduled one, dispatched later).
    fn log_context(input: &Input) -> LogContext {
        LogContext {
            calendar_id: Some(input.calendar_id),
            run_id: input.run_id,
            channel: Some(input.channel.clone()),
            request_id: input.request_id.clone(),

            ..LogContext::default()
        }
    }

    async fn run(self, ctx: &JobContext, claim: &Claim, input: Input) -> JobResult {
        Publisher::new(ctx, claim, input).run().await
    }
}

#[derive(Deserialize)]
pub struct Input {
    id: Uuid,
    previous: IntentStatus,
    user_id: Uuid,
    calendar_id: Uuid,
    entry_id: Option<Uuid>,
    run_id: Option<Uuid>,
    channel: String,
    account: Option<Uuid>,
    mode: Mode,
    payload: Value,
    remote_id: Option<String>,
    sending_at: Option<DateTime<Utc>>,
    sent_at: Option<DateTime<Utc>>,
    unknown_since: Option<DateTime<Utc>>,
    request_id: Option<String>,
}

/// How a step ended when it did not go on.
enum Stop {
    /// The intent reached this status (recorded).
    Settled(IntentStatus),
    /// Try again later (the ledger's backoff).
    Later(JobError),
}

impl From<JobError> for Stop {
    fn from(error: JobError) -> Self {
        Stop::Later(error)
    }
}

struct Publisher<'a> {
    ctx: &'a JobContext,
    claim: &'a Claim,
    input: Input,
    started: Instant,
}

impl<'a> Publisher<'a> {
    fn new(ctx: &'a JobContext, claim: &'a Claim, input: Input) -> Self {
        Self {
            ctx,
            claim,
            input,
            started: Instant::now(),
        }
    }

    async fn run(self) -> JobResult {
        let outcome = match self.input.previous {
            IntentStatus::Scheduled | IntentStatus::Publishing | IntentStatus::Unknown => {
                // Its requests to the platform take the channel's permits.
                let channel = self.input.account.map(|id| id.to_string());
                let asked = RequestPermits {
                    permits: self.ctx.platform_permits.clone(),
                    scope: format!(
                        "{}:{}",
                        self.input.channel,
                        channel.as_deref().unwrap_or("-")
                    ),
                    max: self.ctx.settings.publish.max_concurrency,
                };
                REQUEST_PERMITS.scope(asked, self.publish()).await
            }
            // Cancelled (or settled) before this job ran: nothing to send.
            other => Err(Stop::Settled(other)),
        };
        match outcome {
            Ok(status) | Err(Stop::Settled(status)) => self.finish(status).await,
            Err(Stop::Later(error)) => Err(error),
        }
    }

    async fn publish(&self) -> Result<IntentStatus, Stop> {
        let Some(platform) = self.ctx.platforms.of_channel(&self.input.channel) else {
            return self
                .fail(&Failure::permanent(
                    "UNSUPPORTED_CHANNEL",
                    format!("no adapter publishes to `{}`", self.input.channel),
                ))
                .await;
        };
        let adapter = self.ctx.platforms.registered(platform);
        if self.input.previous == IntentStatus::Unknown || self.input.sending_at.is_some() {
            // The request with an outside effect may have gone: only checks from here on.
            let post = self.sent_post()?;
            if self.input.previous != IntentStatus::Unknown {
                self.unknown(
                    "an earlier attempt stopped while publishing; it is checked, not sent again",
                )
                .await?;
            }
            let since = self
                .input
                .unknown_since
                .or(self.input.sending_at)
                .unwrap_or_else(Utc::now);
            return self
                .settle(adapter, self.input.remote_id.clone(), &post, since, true)
                .await;
        }
        if let Some(sent_at) = self.input.sent_at {
            // Accepted by the platform (TikTok's publish_id is kept): follow it.
            let post = self.sent_post()?;
            return self
                .settle(adapter, self.input.remote_id.clone(), &post, sent_at, false)
                .await;
        }
        if !self
            .ctx
            .flags
            .enabled(Flag::PublishService, self.claim.user_id)
        {
            // Publishing went off after it was dispatched, and nothing was sent yet: it waits,
            // unsent, for the flag. An intent that may have been sent went on above with its
            // read-only checks, which send nothing, so that it still settles.
            self.intent()
                .put_back_unsent()
                .await
                .context("putting the intent back")?;
            return Err(Stop::Settled(IntentStatus::Scheduled));
        }
        let Some(post) = self.entry_post().await? else {
            self.intent()
                .cancel_deleted_entry()
                .await
                .context("cancelling the intent of a deleted entry")?;
            return Err(Stop::Settled(IntentStatus::Cancelled));
        };
        let options = self.options();
        let problems = adapter.validate(&post, &options);
        if let Some(first) = problems.first() {
            return self
                .fail(&Failure::permanent(&first.code, first.message.clone()))
                .await;
        }
        self.send(platform, adapter, &post, &options).await
    }

    /// The harmless steps (the platform's checks, its preparation), then the request with
    /// an outside effect, each with one refresh of the token should the platform refuse it;
    /// then the published post followed until it settles.
    async fn send(
        &self,
        platform: Platform,
        adapter: &dyn Adapter,
        post: &Post,
        options: &Options,
    ) -> Result<IntentStatus, Stop> {
        let mut auth = self.auth(platform, false).await?;
        let mut refreshed = false;
        // Harmless steps, with one refresh should the platform refuse the token.
        let (options, prepared) = loop {
            let step = async {
                let checked = adapter.check(&auth, post, options).await?;
                let prepared = adapter.prepare(&auth, post, &checked.options).await?;
                Ok::<_, Failure>((checked.options, prepared))
            };
            match step.await {
                Ok(done) => break done,
                Err(failure) if failure.kind == FailureKind::Auth && !refreshed => {
                    refreshed = true;
                    auth = self.auth(platform, true).await?;
                }
                Err(failure) => return self.refused(platform, &failure).await,
            }
        };
        if let Some(container) = &prepared {
            self.remote(container).await?;
        }
        loop {
            self.sending(post).await?;
            match adapter
                .send(&auth, post, &options, prepared.as_deref())
                .await
            {
                Sent::Accepted { remote_id, post_id } => {
                    self.accepted(&remote_id).await?;
                    if let Some(post_id) = post_id {
                        return self
                            .settled(Remote::Published {
                                post_id: Some(post_id),
                            })
                            .await;
                    }
                    return self
                        .settle(adapter, Some(remote_id), post, Utc::now(), false)
                        .await;
                }
                Sent::NotApplied(failure) => {
                    self.not_applied(&failure).await?;
                    if failure.kind == FailureKind::Auth && !refreshed {
                        refreshed = true;
                        auth = self.auth(platform, true).await?;
                        continue;
                    }
                    return self.refused(platform, &failure).await;
                }
                Sent::Unknown(reason) => {
                    self.unknown(&format!(
                        "{}'s answer was lost ({reason}); checking whether it was published",
                        adapter.label()
                    ))
                    .await?;
                    return self
                        .settle(adapter, prepared.clone(), post, Utc::now(), true)
                        .await;
                }
            }
        }
    }

    /// Read-only checks until the platform settles it or the window closes.
    async fn settle(
        &self,
        adapter: &dyn Adapter,
        remote_id: Option<String>,
        post: &Post,
        since: DateTime<Utc>,
        unknown: bool,
    ) -> Result<IntentStatus, Stop> {
        let settings = &self.ctx.settings.publish;
        let window = chrono::Duration::from_std(settings.confirm_window).unwrap_or_default();
        loop {
            // Checking must not settle the intent on its own: a channel that became unusable
            // leaves it pending until the window closes.
            let usable = match (self.ctx.cipher.as_ref(), self.input.account) {
                (Some(cipher), Some(account)) => channels::usable(
                    &self.ctx.pool,
                    &self.ctx.platforms,
                    cipher,
                    account,
                    Utc::now(),
                    false,
                )
                .await
                .ok()
                .and_then(Result::ok),
                _ => None,
            };
            let remote = match usable {
                Some(auth) => {
                    adapter
                        .confirm(&auth, remote_id.as_deref(), post, since)
                        .await
                }
                None => Remote::Pending("the channel's token is not usable now".into()),
            };
            match remote {
                Remote::Pending(reason) => {
                    if Utc::now() - since >= window {
                        let message = if unknown {
                            format!(
                                "the publish could not be confirmed within {} minutes ({reason}): check the {} account before retrying, so that it is not posted twice",
                                window.num_minutes(),
                                adapter.label()
                            )
                        } else {
                            format!(
                                "{} had not finished the post after {} minutes ({reason}): check the account",
                                adapter.label(),
                                window.num_minutes()
                            )
                        };
                        let error = json!({ "code": "PUBLISH_UNCONFIRMED", "message": message });
                        return self
                            .set(IntentStatus::Unconfirmed, Some(&error), None)
                            .await;
                    }
                    self.intent().checked().await.context("recording a check")?;
                    tokio::time::sleep(settings.check_interval).await;
                }
                Remote::Unreadable(message) => {
                    let error = json!({ "code": "PUBLISH_UNCONFIRMED", "message": message });
                    return self
                        .set(IntentStatus::Unconfirmed, Some(&error), None)
                        .await;
                }
                settled => return self.settled(settled).await,
            }
        }
    }

    async fn settled(&self, remote: Remote) -> Result<IntentStatus, Stop> {
        match remote {
            Remote::Published { post_id } => {
                self.set(IntentStatus::Published, None, post_id.as_deref())
                    .await
            }
            Remote::DraftSent => self.set(IntentStatus::DraftSent, None, None).await,
            Remote::Failed(failure) => self.fail(&failure).await,
            Remote::Pending(_) | Remote::Unreadable(_) => unreachable!("not settled"),
        }
    }

    /// A refusal before anything was applied: later if the platform may take it later,
    /// else failed (an auth refusal also marks the channel).
    async fn refused(&self, platform: Platform, failure: &Failure) -> Result<IntentStatus, Stop> {
        match failure.kind {
            // Nothing was sent: the job waits a moment in the ledger, no attempt spent.
            FailureKind::Retryable if failure.code == PLATFORM_BUSY => {
                let mut error = JobError::transient(&failure.code, failure.message.clone());
                error.release_after = Some(almanac_shared::permits::retry_pause());
                Err(Stop::Later(error))
            }
            FailureKind::Retryable => {
                let detail = failure.to_json();
                self.intent()
                    .refused_for_now(&detail)
                    .await
                    .context("recording a retryable refusal")?;
                let mut error = JobError::transient(&failure.code, failure.message.clone());
                if let Some(code) = &failure.platform_code {
                    error = error.with("platformCode", code.as_str());
                }
                Err(Stop::Later(error))
            }
            FailureKind::Auth => {
                if let Some(account) = self.input.account {
                    let mut conn = self
                        .ctx
                        .pool
                        .acquire()
                        .await
                        .context("marking the channel")?;
                    channels::needs_reauth(&mut conn, account, &failure.message)
                        .await
                        .context("marking the channel")?;
                }
                almanac_shared::publish::auth_missing(Some(platform), &failure.code);
                self.fail(failure).await
            }
            FailureKind::Permanent => self.fail(failure).await,
        }
    }

    /// The channel's token, refreshed first when due (or `force`d).
    async fn auth(&self, platform: Platform, force: bool) -> Result<Auth, Stop> {
        let unusable = |u: Unusable| u.failure(platform.as_str());
        let (Some(cipher), Some(account)) = (self.ctx.cipher.as_ref(), self.input.account) else {
            return Err(self
                .fail_auth(platform, unusable(Unusable::NotConnected))
                .await);
        };
        match channels::usable(
            &self.ctx.pool,
            &self.ctx.platforms,
            cipher,
            account,
            Utc::now(),
            force,
        )
        .await
        {
            Ok(Ok(auth)) => Ok(auth),
            Ok(Err(u)) => Err(self.fail_auth(platform, unusable(u)).await),
            Err(UsableError::Database(error)) => Err(JobError::from(error).into()),
            Err(UsableError::Platform(failure)) => Err(Stop::Later(JobError::transient(
                &failure.code,
                failure.message,
            ))),
        }
    }

    async fn fail_auth(&self, platform: Platform, failure: Failure) -> Stop {
        almanac_shared::publish::auth_missing(Some(platform), &failure.code);
        match self.fail(&failure).await {
            Ok(status) => Stop::Settled(status),
            Err(stop) => stop,
        }
    }

    fn options(&self) -> Options {
        serde_json::from_value(self.input.payload["options"].clone()).unwrap_or(Options {
            mode: self.input.mode,
            privacy_level: None,
        })
    }

    /// The entry as saved now; `None` when it was deleted.
    async fn entry_post(&self) -> Result<Option<Post>, Stop> {
        let Some(entry_id) = self.input.entry_id else {
            return Ok(None);
        };
        let entry = calendars::publishable_entry(&self.ctx.pool, entry_id, self.input.user_id)
            .await
            .context("reading the entry")?;
        Ok(entry.map(|e| e.post()))
    }

    /// The post as it was sent (kept when it was marked sending).
    fn sent_post(&self) -> Result<Post, Stop> {
        serde_json::from_value(self.input.payload["sent"].clone())
            .or_else(|_| serde_json::from_value(self.input.payload["post"].clone()))
            .map_err(|_| {
                Stop::Later(JobError::permanent(
                    "PUBLISH_STATE_INVALID",
                    "the intent lost what it sent",
                ))
            })
    }

    /// The intent, as this job writes it.
    fn intent(&self) -> IntentRun<'_> {
        IntentRun {
            pool: &self.ctx.pool,
            intent: self.input.id,
            job: self.claim.id,
        }
    }

    async fn remote(&self, remote_id: &str) -> Result<(), Stop> {
        self.intent()
            .remote(remote_id)
            .await
            .context("recording the container")?;
        Ok(())
    }

    /// Marked before the request with an outside effect goes (its own commit).
    async fn sending(&self, post: &Post) -> Result<(), Stop> {
        let sent = serde_json::to_value(post).unwrap_or_default();
        self.intent()
            .mark_sending(&sent)
            .await
            .context("marking the intent sending")?;
        Ok(())
    }

    async fn accepted(&self, remote_id: &str) -> Result<(), Stop> {
        self.intent()
            .accepted(remote_id)
            .await
            .context("recording the post accepted")?;
        Ok(())
    }

    async fn not_applied(&self, failure: &Failure) -> Result<(), Stop> {
        self.intent()
            .not_applied(&failure.to_json())
            .await
            .context("recording the refusal")?;
        Ok(())
    }

    async fn unknown(&self, message: &str) -> Result<(), Stop> {
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

    async fn fail(&self, failure: &Failure) -> Result<IntentStatus, Stop> {
        self.set(IntentStatus::Failed, Some(&failure.to_json()), None)
            .await
    }

    /// Records a final status (and the post's id).
    async fn set(
        &self,
        status: IntentStatus,
        error: Option<&Value>,
        post_id: Option<&str>,
    ) -> Result<IntentStatus, Stop> {
        self.intent()
            .settle(status, error, post_id)
            .await
            .context("recording the intent's outcome")?;
        Ok(status)
    }

    async fn finish(&self, status: IntentStatus) -> JobResult {
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
        if !self
            .claim
            .succeed(&self.ctx.pool, &result, None)
            .await
            .context("ending the job")?
        {
            return Ok(None);
        }
        Ok(Some(Finished::succeeded(result)))
    }
}
