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
    publish::{self as store, IntentRun, Marked},
};
use std::time::Instant;

use almanac_publishing::{
    Adapter, Attempt, Auth, Failure, FailureKind, IntentStatus, Mode, Options, PLATFORM_BUSY,
    Platform, Post, PublishJob, REQUEST_PERMITS, Remote, RequestPermits, Sent, Settling,
    channels::{self, Unusable, UsableError},
    quota,
};
use almanac_shared::flags::Flag;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::job::{Context, End, Finished, Job, JobContext, JobError, JobResult, LogContext};

mod intent;
mod settle;

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

/// An intent held to an approval whose entry changed since (or is no longer approved):
/// nothing is sent.
fn not_approved() -> Failure {
    Failure::permanent(
        "REVIEW_EXPIRED",
        "the entry changed after it was approved, so it was not published: ask for its review \
         again, then publish it",
    )
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
    /// When a scheduled intent was due (none for one published now).
    publish_at: Option<DateTime<Utc>>,
    /// Since when it waited for publishing to come back on for its owner.
    held_since: Option<DateTime<Utc>>,
    /// The content hash its entry was approved at when it was dispatched; none when its
    /// channel asks for no review.
    approved_hash: Option<String>,
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
        if let (Some(_), Some(due)) = (self.input.held_since, self.input.publish_at)
            && due + self.ctx.settings.publish.late_limit < Utc::now()
        {
            // It fell due while publishing was off, and is now later than it may go out.
            return self
                .fail(&Failure::permanent(
                    "SCHEDULE_PASSED",
                    "the entry's time passed while publishing was switched off, so it was not \
                     posted late: move the entry, or publish it now",
                ))
                .await;
        }
        let Some((post, hash)) = self.entry_post(adapter).await? else {
            self.intent()
                .cancel_deleted_entry()
                .await
                .context("cancelling the intent of a deleted entry")?;
            return Err(Stop::Settled(IntentStatus::Cancelled));
        };
        if let Some(refused) = self.unapproved(hash.as_deref()) {
            return self.fail(&refused).await;
        }
        let options = self.options();
        let problems = adapter.problems(&post, &options);
        if let Some(first) = problems.first() {
            return self
                .fail(&Failure::permanent(&first.code, first.message.clone()))
                .await;
        }
        self.send(platform, adapter, (&post, hash.as_deref()), &options)
            .await
    }

    /// Why an intent held to an approval may not send the post made from content hashed
    /// `hash` (none: a rewritten repeat, which no one approved).
    fn unapproved(&self, hash: Option<&str>) -> Option<Failure> {
        let approved = self.input.approved_hash.as_deref()?;
        match hash {
            None => Some(Failure::permanent(
                "REVIEW_INCOMPATIBLE",
                "a repeat rewritten by the AI cannot go out on a channel that asks for review: \
                 no one approved its words",
            )),
            Some(hash) if hash != approved => Some(not_approved()),
            Some(_) => None,
        }
    }

    /// The harmless steps (the platform's checks, its preparation), then the request with
    /// an outside effect, each with one refresh of the token should the platform refuse it;
    /// then the published post followed until it settles.
    async fn send(
        &self,
        platform: Platform,
        adapter: &dyn Adapter,
        (post, hash): (&Post, Option<&str>),
        options: &Options,
    ) -> Result<IntentStatus, Stop> {
        // A quota Almanac counts: a post past it waits for the window to turn.
        let counted =
            quota::counted(adapter, self.input.mode).map(|q| (q, quota::window(&q, Utc::now())));
        let spent = |(q, w): &(_, _)| quota::spent(adapter.label(), q, w, Utc::now());
        if let Some((quota, _)) = &counted
            && let Some(full) = self.quota_full(quota, adapter.label()).await?
        {
            return self.refused(platform, &full).await;
        }
        let mut auth = self.auth(platform, false).await?;
        let mut refreshed = false;
        // Harmless steps, with one refresh should the platform refuse the token.
        let (options, prepared) = loop {
            let step = async {
                let at = Attempt {
                    auth: &auth,
                    post,
                    options,
                };
                let checked = adapter.check(at).await?;
                let prepared = adapter
                    .prepare(Attempt {
                        options: &checked.options,
                        ..at
                    })
                    .await?;
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
            match self.sending(post, hash, counted.as_ref()).await? {
                Marked::Marked => {}
                Marked::NotApproved => return self.fail(&not_approved()).await,
                Marked::QuotaFull => match &counted {
                    Some(counted) => return self.refused(platform, &spent(counted)).await,
                    None => return self.fail(&not_approved()).await,
                },
            }
            match adapter
                .send(
                    Attempt {
                        auth: &auth,
                        post,
                        options: &options,
                    },
                    prepared.as_deref(),
                )
                .await
            {
                Sent::Accepted { remote_id, post_id } => {
                    self.accepted(&remote_id).await?;
                    if let Some(post_id) = post_id {
                        let published = Remote::Published {
                            post_id: Some(post_id),
                        };
                        return self.settled(adapter, post, published).await;
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

    fn options(&self) -> Options {
        serde_json::from_value(self.input.payload["options"].clone()).unwrap_or(Options {
            mode: self.input.mode,
            privacy_level: None,
        })
    }

    /// The entry as saved now, with the hash of the content the post is made from (none
    /// for a repeat the AI rewrote); `None` when it was deleted.
    async fn entry_post(
        &self,
        adapter: &dyn Adapter,
    ) -> Result<Option<(Post, Option<String>)>, Stop> {
        let Some(entry_id) = self.input.entry_id else {
            return Ok(None);
        };
        let entry = calendars::publishable_entry(&self.ctx.pool, entry_id, self.claim.workspace_id)
            .await
            .context("reading the entry")?;
        let media = &self.ctx.platforms.media;
        let intent = self.input.id;
        // An evergreen repeat rewritten by the AI publishes its own text.
        let variant = self.input.payload["variant"].as_str();
        Ok(entry.map(|e| {
            let post = almanac_publishing::uploads::post(&e, adapter, media);
            let hash = variant.is_none().then(|| e.content_hash.clone());
            let post = Post {
                intent_id: Some(intent),
                text: variant.map_or(post.text.clone(), str::to_owned),
                ..post
            };
            (post, hash)
        }))
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
}
