//! How a publish ends at the platform: read-only checks until the platform settles a sent
//! post or the window closes, a refusal taken as later or failed, and the channel's token
//! (refreshed when due, its refusal marking the channel).

use almanac_publishing::{CommentStatus, Commenting, FirstComment, Sent};
use almanac_shared::store::publish::CommentMark;

use super::{
    Adapter, Auth, Context, DateTime, Failure, FailureKind, IntentStatus, JobError, PLATFORM_BUSY,
    Platform, Post, Publisher, Remote, Settling, Stop, Unusable, UsableError, Utc, channels, json,
};

impl Publisher<'_> {
    /// Read-only checks until the platform settles it or the window closes.
    pub(super) async fn settle(
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
                        .confirm(
                            &auth,
                            Settling {
                                remote_id: remote_id.as_deref(),
                                post,
                                since,
                            },
                        )
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
                            .set(IntentStatus::Unconfirmed, Some(&error), (None, None))
                            .await;
                    }
                    self.intent().checked().await.context("recording a check")?;
                    tokio::time::sleep(settings.check_interval).await;
                }
                Remote::Unreadable(message) => {
                    let error = json!({ "code": "PUBLISH_UNCONFIRMED", "message": message });
                    return self
                        .set(IntentStatus::Unconfirmed, Some(&error), (None, None))
                        .await;
                }
                settled => return self.settled(adapter, post, settled).await,
            }
        }
    }

    /// The intent as the platform settled it; a published post's first comment sent first,
    /// as its own step.
    pub(super) async fn settled(
        &self,
        adapter: &dyn Adapter,
        post: &Post,
        remote: Remote,
    ) -> Result<IntentStatus, Stop> {
        match remote {
            Remote::Published { post_id } => {
                if let Some(text) = &post.first_comment {
                    self.first_comment(adapter, post_id.as_deref(), text)
                        .await?;
                }
                let url = match &post_id {
                    Some(post_id) => self.post_url(post_id).await,
                    None => None,
                };
                let post = (post_id.as_deref(), url.as_deref());
                self.set(IntentStatus::Published, None, post).await
            }
            Remote::DraftSent => self.set(IntentStatus::DraftSent, None, (None, None)).await,
            Remote::Failed(failure) => self.fail(&failure).await,
            Remote::Pending(_) | Remote::Unreadable(_) => unreachable!("not settled"),
        }
    }

    /// The published post's address, asked of its platform once; none when the platform
    /// gives none or cannot be asked now (the post is out either way).
    async fn post_url(&self, post_id: &str) -> Option<String> {
        let platform = self.ctx.platforms.of_channel(&self.input.channel)?;
        let auth = self.usable().await?;
        self.ctx
            .platforms
            .registered(platform)
            .post_url(&auth, post_id)
            .await
    }

    /// The channel's token when it is usable now, without settling the intent otherwise.
    async fn usable(&self) -> Option<Auth> {
        channels::usable(
            &self.ctx.pool,
            &self.ctx.platforms,
            self.ctx.cipher.as_ref()?,
            self.input.account?,
            Utc::now(),
            false,
        )
        .await
        .ok()?
        .ok()
    }

    /// The published post's first comment (`text` under `post_id`), at most once: marked
    /// in a commit of its own before it goes; an attempt finding it marked without an
    /// outcome keeps it `unknown` and sends nothing. Whatever becomes of it, the post stays
    /// published.
    async fn first_comment(
        &self,
        adapter: &dyn Adapter,
        post_id: Option<&str>,
        text: &str,
    ) -> Result<(), Stop> {
        let outcome = match self
            .intent()
            .mark_commenting()
            .await
            .context("marking the first comment sending")?
        {
            CommentMark::Done => return Ok(()),
            CommentMark::WasMarked => FirstComment::unknown(
                "an earlier attempt stopped while sending the first comment, so it is not sent again",
            ),
            CommentMark::Marked => self.comment(adapter, post_id, text).await,
        };
        if outcome.status != CommentStatus::Sent {
            tracing::warn!(
                intentId = %self.input.id,
                channel = %self.input.channel,
                status = outcome.status.as_str(),
                "first comment not sent"
            );
        }
        let outcome = serde_json::to_value(&outcome).unwrap_or_default();
        self.intent()
            .commented(&outcome)
            .await
            .context("recording the first comment")?;
        Ok(())
    }

    /// The comment's one request, and what became of it.
    async fn comment(
        &self,
        adapter: &dyn Adapter,
        post_id: Option<&str>,
        text: &str,
    ) -> FirstComment {
        let label = adapter.label();
        let Some(post_id) = post_id else {
            return FirstComment::failed(&Failure::permanent(
                "FIRST_COMMENT_NOT_SENT",
                format!("{label} did not say which post it made, so no comment could go under it"),
            ));
        };
        let Some(auth) = self.usable().await else {
            return FirstComment::failed(&Failure::permanent(
                "FIRST_COMMENT_NOT_SENT",
                format!(
                    "the {label} channel's token was not usable once the post was out, so the comment was not sent"
                ),
            ));
        };
        let on = Commenting {
            post_id,
            text,
            intent_id: Some(self.input.id),
        };
        match adapter.comment(&auth, on).await {
            Sent::Accepted { remote_id, post_id } => {
                FirstComment::sent(post_id.unwrap_or(remote_id))
            }
            Sent::NotApplied(failure) => {
                FirstComment::failed(&almanac_publishing::comment_refusal(adapter, failure))
            }
            Sent::Unknown(reason) => FirstComment::unknown(&format!(
                "{label}'s answer to the first comment was lost ({reason})"
            )),
        }
    }

    /// A refusal before anything was applied: later if the platform may take it later,
    /// else failed (an auth refusal also marks the channel).
    pub(super) async fn refused(
        &self,
        platform: Platform,
        failure: &Failure,
    ) -> Result<IntentStatus, Stop> {
        match failure.kind {
            // Nothing was sent: the job waits a moment in the ledger, no attempt spent.
            FailureKind::Retryable if failure.code == PLATFORM_BUSY => {
                let mut error = JobError::transient(&failure.code, failure.message.clone());
                error.release_after = Some(almanac_shared::permits::retry_pause());
                Err(Stop::Later(error))
            }
            FailureKind::Retryable => {
                let mut detail = failure.to_json();
                if let Some(wait) = failure.retry_after
                    && let Ok(wait) = chrono::Duration::from_std(wait)
                {
                    // When it is tried again: a quota's place, a rate limit's reset.
                    detail["freesAt"] = json!(Utc::now() + wait);
                }
                self.intent()
                    .refused_for_now(&detail)
                    .await
                    .context("recording a retryable refusal")?;
                let mut error = JobError::transient(&failure.code, failure.message.clone());
                if let Some(code) = &failure.platform_code {
                    error = error.with("platformCode", code.as_str());
                }
                // A rate limit that said when it resets: the publish is deferred to then,
                // not failed, however often it comes.
                error.release_after = failure.retry_after;
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
                almanac_publishing::auth_missing(Some(platform), &failure.code);
                self.fail(failure).await
            }
            FailureKind::Permanent => self.fail(failure).await,
        }
    }

    /// The channel's token, refreshed first when due (or `force`d).
    pub(super) async fn auth(&self, platform: Platform, force: bool) -> Result<Auth, Stop> {
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

    pub(super) async fn fail_auth(&self, platform: Platform, failure: Failure) -> Stop {
        almanac_publishing::auth_missing(Some(platform), &failure.code);
        match self.fail(&failure).await {
            Ok(status) => Stop::Settled(status),
            Err(stop) => stop,
        }
    }
}
